//! The compiled form of an expression, after path steps and predicates are resolved.

use super::regex::JsRegex;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Concat,
    In,
    Range,
    Coalesce,
    Elvis,
}

impl BinOp {
    /// The operator as written, for error messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Concat => "&",
            BinOp::In => "in",
            BinOp::Range => "..",
            BinOp::Coalesce => "??",
            BinOp::Elvis => "?:",
        }
    }
}

/// An expression node.
#[derive(Debug)]
pub(crate) enum Node {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
    Regex(Box<JsRegex>),
    /// A field lookup (only ever a path step).
    Name(String),
    /// `$name`; `""` is the context `$`, `"$"` the root `$$`.
    Var(String),
    Wildcard,
    Descendants,
    Path(Box<PathNode>),
    Neg(Box<Node>),
    /// An array constructor; `cons` when it starts or ends a path (never flattened).
    Array {
        items: Vec<Node>,
        cons: bool,
    },
    /// An object constructor `{k: v}` applied to the context.
    Object(Vec<(Node, Node)>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `lhs ~> rhs`.
    Apply(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Option<Box<Node>>),
    Bind(String, Box<Node>),
    Block(Vec<Node>),
    Call {
        func: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    /// `?` in a partial application's arguments.
    Placeholder,
    Lambda(Box<LambdaDef>),
    /// A non-path expression followed by predicates, `[]` or a grouping.
    Filtered(Box<Filtered>),
    /// `^(...)`, only ever a path step.
    Sort(Vec<SortTerm>),
}

/// A path `a.b[0].c`.
#[derive(Debug, Default)]
pub(crate) struct PathNode {
    pub steps: Vec<Step>,
    /// `[]` somewhere in the path: keep singleton results as arrays.
    pub keep_array: bool,
    /// A trailing `{...}` grouping.
    pub group: Option<Vec<(Node, Node)>>,
}

/// One step of a path with its filters.
#[derive(Debug)]
pub(crate) struct Step {
    pub node: Node,
    pub stages: Vec<Node>,
}

/// A non-path expression with predicates applied to its whole result.
#[derive(Debug)]
pub(crate) struct Filtered {
    pub expr: Node,
    pub stages: Vec<Node>,
    pub keep_array: bool,
    pub group: Option<Vec<(Node, Node)>>,
}

/// One `^(...)` term; `desc` for `>`.
#[derive(Debug)]
pub(crate) struct SortTerm {
    pub expr: Node,
    pub desc: bool,
}

/// A lambda's parameters (without `$`) and body.
#[derive(Debug)]
pub(crate) struct LambdaDef {
    pub params: Vec<String>,
    pub body: Node,
}
