//! A Pratt parser producing the resolved AST (paths, stages and groupings folded in).

use super::JsonataError;
use super::ast::{BinOp, Filtered, LambdaDef, Node, PathNode, SortTerm, Step};
use super::error::{err, quote_str, too_deep};
use super::lexer::{Tok, Token, tokenize};
use super::regex::JsRegex;

/// Deepest nesting the parser accepts, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 120;

/// Parses a whole expression.
pub(crate) fn parse(src: &str) -> Result<Node, JsonataError> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, i: 0, depth: 0 };
    let node = p.expression(0)?;
    match &p.peek().tok {
        Tok::End => Ok(node),
        other => Err(err("S0201", &format!("Syntax error: {}", describe(other)))),
    }
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => super::value::js_num_string(*n),
        Tok::Str(s) => quote_str(s),
        Tok::Name(s) => quote_str(s),
        Tok::Var(s) => quote_str(&format!("${s}")),
        Tok::Op(o) => quote_str(o),
        Tok::Regex(p, _) => quote_str(p),
        Tok::End => "(end)".into(),
    }
}

/// Left binding power of an infix token.
fn lbp(t: &Tok) -> u8 {
    match t {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "*" | "/" | "%" => 60,
            "+" | "-" | "&" => 50,
            "=" | "!=" | "<" | "<=" | ">" | ">=" | "^" | "~>" | "?:" | "??" => 40,
            "?" | ".." => 20,
            ":=" => 10,
            _ => 0,
        },
        Tok::Name(n) => match n.as_str() {
            "and" => 30,
            "or" => 25,
            "in" => 40,
            _ => 0,
        },
        _ => 0,
    }
}

fn binop(t: &Tok) -> Option<BinOp> {
    Some(match t {
        Tok::Op("+") => BinOp::Add,
        Tok::Op("-") => BinOp::Sub,
        Tok::Op("*") => BinOp::Mul,
        Tok::Op("/") => BinOp::Div,
        Tok::Op("%") => BinOp::Mod,
        Tok::Op("=") => BinOp::Eq,
        Tok::Op("!=") => BinOp::Ne,
        Tok::Op("<") => BinOp::Lt,
        Tok::Op("<=") => BinOp::Le,
        Tok::Op(">") => BinOp::Gt,
        Tok::Op(">=") => BinOp::Ge,
        Tok::Op("&") => BinOp::Concat,
        Tok::Op("..") => BinOp::Range,
        Tok::Op("??") => BinOp::Coalesce,
        Tok::Op("?:") => BinOp::Elvis,
        Tok::Name(n) if n == "and" => BinOp::And,
        Tok::Name(n) if n == "or" => BinOp::Or,
        Tok::Name(n) if n == "in" => BinOp::In,
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with `End`, so the last token is a safe fallback.
        self.toks.get(self.i).unwrap_or_else(|| &self.toks[self.toks.len() - 1])
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().tok.clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.peek().tok, Tok::Op(o) if *o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), JsonataError> {
        if self.is_op(op) {
            self.next();
            return Ok(());
        }
        Err(match &self.peek().tok {
            Tok::End => err("S0203", &format!("Expected {} before end of expression", quote_str(op))),
            other => err("S0202", &format!("Expected {}, got {}", quote_str(op), describe(other))),
        })
    }

    fn expression(&mut self, rbp: u8) -> Result<Node, JsonataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let tok = self.next();
        let mut left = self.nud(tok)?;
        while rbp < lbp(&self.peek().tok) {
            let tok = self.next();
            left = self.led(tok, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, tok: Tok) -> Result<Node, JsonataError> {
        Ok(match tok {
            Tok::Num(n) => Node::Num(n),
            Tok::Str(s) => Node::Str(s),
            Tok::Regex(p, f) => Node::Regex(Box::new(JsRegex::new(&p, &f)?)),
            Tok::Var(v) => Node::Var(v),
            Tok::Name(n) => match n.as_str() {
                "true" => Node::Bool(true),
                "false" => Node::Bool(false),
                "null" => Node::Null,
                "function" if self.is_op("(") => self.lambda()?,
                _ => path_of(Node::Name(n)),
            },
            Tok::Op("-") => match self.expression(70)? {
                Node::Num(n) => Node::Num(-n),
                other => Node::Neg(Box::new(other)),
            },
            Tok::Op("*") => path_of(Node::Wildcard),
            Tok::Op("**") => path_of(Node::Descendants),
            Tok::Op("?") => Node::Placeholder,
            Tok::Op("(") => {
                let mut items = Vec::new();
                while !self.is_op(")") {
                    items.push(self.expression(0)?);
                    if !self.is_op(";") {
                        break;
                    }
                    self.next();
                }
                self.expect(")")?;
                Node::Block(items)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.is_op("]") {
                    loop {
                        items.push(self.expression(0)?);
                        if !self.is_op(",") {
                            break;
                        }
                        self.next();
                    }
                }
                self.expect("]")?;
                Node::Array { items, cons: false }
            }
            Tok::Op("{") => Node::Object(self.pairs()?),
            Tok::End => return Err(err("S0207", "Unexpected end of expression")),
            Tok::Op(op @ ("%" | "|")) => {
                return Err(err("S0201", &format!("Syntax error: {}", quote_str(op))));
            }
            Tok::Op(op) => {
                return Err(err("S0211", &format!("The symbol {} cannot be used as a unary operator", quote_str(op))));
            }
        })
    }

    fn pairs(&mut self) -> Result<Vec<(Node, Node)>, JsonataError> {
        let mut pairs = Vec::new();
        if !self.is_op("}") {
            loop {
                let k = self.expression(0)?;
                self.expect(":")?;
                let v = self.expression(0)?;
                pairs.push((k, v));
                if !self.is_op(",") {
                    break;
                }
                self.next();
            }
        }
        self.expect("}")?;
        Ok(pairs)
    }

    fn lambda(&mut self) -> Result<Node, JsonataError> {
        self.expect("(")?;
        let mut params = Vec::new();
        while !self.is_op(")") {
            match self.next() {
                Tok::Var(v) => params.push(v),
                other => {
                    return Err(err(
                        "S0208",
                        &format!(
                            "Parameter {} of function definition must be a variable name (start with $)",
                            describe(&other)
                        ),
                    ));
                }
            }
            if !self.is_op(",") {
                break;
            }
            self.next();
        }
        self.expect(")")?;
        // A signature `<...>` only constrains types; it is skipped, not enforced.
        if self.is_op("<") {
            let mut depth = 0;
            loop {
                match self.next() {
                    Tok::Op("<") => depth += 1,
                    Tok::Op(">") => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Tok::End => return Err(err("S0207", "Unexpected end of expression")),
                    _ => {}
                }
            }
        }
        self.expect("{")?;
        let body = self.expression(0)?;
        self.expect("}")?;
        Ok(Node::Lambda(Box::new(LambdaDef { params, body })))
    }

    fn led(&mut self, tok: Tok, left: Node) -> Result<Node, JsonataError> {
        if let Some(op) = binop(&tok) {
            let rhs = self.expression(lbp(&tok))?;
            return Ok(Node::Binary(op, Box::new(left), Box::new(rhs)));
        }
        match tok {
            Tok::Op(".") => {
                let rhs = self.expression(75)?;
                dot(left, rhs)
            }
            Tok::Op("[") => {
                if self.is_op("]") {
                    self.next();
                    return Ok(keep_array(left));
                }
                let pred = self.expression(0)?;
                self.expect("]")?;
                Ok(predicate(left, pred))
            }
            Tok::Op("(") => {
                let mut args = Vec::new();
                let mut partial = false;
                if !self.is_op(")") {
                    loop {
                        let a = self.expression(0)?;
                        partial |= matches!(a, Node::Placeholder);
                        args.push(a);
                        if !self.is_op(",") {
                            break;
                        }
                        self.next();
                    }
                }
                self.expect(")")?;
                Ok(Node::Call { func: Box::new(left), args, partial })
            }
            Tok::Op("{") => {
                let pairs = self.pairs()?;
                group(left, pairs)
            }
            Tok::Op("^") => {
                self.expect("(")?;
                let mut terms = Vec::new();
                loop {
                    let desc = if self.is_op("<") {
                        self.next();
                        false
                    } else if self.is_op(">") {
                        self.next();
                        true
                    } else {
                        false
                    };
                    terms.push(SortTerm { expr: self.expression(0)?, desc });
                    if !self.is_op(",") {
                        break;
                    }
                    self.next();
                }
                self.expect(")")?;
                let mut path = into_path(left);
                path.steps.push(Step { node: Node::Sort(terms), stages: Vec::new() });
                Ok(Node::Path(Box::new(path)))
            }
            Tok::Op("?") => {
                let then = self.expression(0)?;
                let otherwise = if self.is_op(":") {
                    self.next();
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                Ok(Node::Cond(Box::new(left), Box::new(then), otherwise))
            }
            Tok::Op(":=") => {
                let rhs = self.expression(9)?;
                match left {
                    Node::Var(name) => Ok(Node::Bind(name, Box::new(rhs))),
                    _ => Err(err("S0212", "The left side of := must be a variable name (start with $)")),
                }
            }
            Tok::Op("~>") => {
                let rhs = self.expression(40)?;
                Ok(Node::Apply(Box::new(left), Box::new(rhs)))
            }
            other => Err(err("S0201", &format!("Syntax error: {}", describe(&other)))),
        }
    }
}

fn path_of(node: Node) -> Node {
    Node::Path(Box::new(PathNode { steps: vec![Step { node, stages: Vec::new() }], ..PathNode::default() }))
}

/// A node as a path: its own steps, or a one-step path.
fn into_path(node: Node) -> PathNode {
    match node {
        Node::Path(p) => *p,
        other => PathNode { steps: vec![as_step(other)], ..PathNode::default() },
    }
}

/// A non-path node as a step; its predicates become the step's stages.
fn as_step(node: Node) -> Step {
    match node {
        Node::Filtered(f) if f.group.is_none() && !f.keep_array => Step { node: f.expr, stages: f.stages },
        other => Step { node: other, stages: Vec::new() },
    }
}

fn dot(lhs: Node, rhs: Node) -> Result<Node, JsonataError> {
    let mut path = into_path(lhs);
    if path.group.is_some() {
        // A grouping ends a path in the reference parser's output too.
        path = PathNode {
            steps: vec![Step { node: Node::Path(Box::new(path)), stages: Vec::new() }],
            ..PathNode::default()
        };
    }
    match rhs {
        Node::Path(p) => {
            let p = *p;
            path.keep_array |= p.keep_array;
            path.steps.extend(p.steps);
            path.group = p.group;
        }
        other => path.steps.push(as_step(other)),
    }
    for step in path.steps.iter_mut() {
        match &step.node {
            Node::Num(_) | Node::Bool(_) | Node::Null => {
                return Err(err("S0213", "The literal value cannot be used as a step within a path expression"));
            }
            Node::Str(s) => step.node = Node::Name(s.clone()),
            _ => {}
        }
    }
    let last = path.steps.len() - 1;
    for (i, step) in path.steps.iter_mut().enumerate() {
        if let Node::Array { cons, .. } = &mut step.node {
            *cons = i == 0 || i == last;
        }
    }
    Ok(Node::Path(Box::new(path)))
}

fn predicate(lhs: Node, pred: Node) -> Node {
    match lhs {
        Node::Path(mut p) if p.group.is_none() => {
            if let Some(step) = p.steps.last_mut() {
                step.stages.push(pred);
            }
            Node::Path(p)
        }
        Node::Filtered(mut f) if f.group.is_none() => {
            f.stages.push(pred);
            Node::Filtered(f)
        }
        other => Node::Filtered(Box::new(Filtered { expr: other, stages: vec![pred], keep_array: false, group: None })),
    }
}

fn keep_array(lhs: Node) -> Node {
    match lhs {
        Node::Path(mut p) => {
            p.keep_array = true;
            Node::Path(p)
        }
        Node::Filtered(mut f) => {
            f.keep_array = true;
            Node::Filtered(f)
        }
        other => Node::Filtered(Box::new(Filtered { expr: other, stages: Vec::new(), keep_array: true, group: None })),
    }
}

fn group(lhs: Node, pairs: Vec<(Node, Node)>) -> Result<Node, JsonataError> {
    let dup = || err("S0210", "Each step can only have one grouping expression");
    match lhs {
        Node::Path(mut p) => {
            if p.group.is_some() {
                return Err(dup());
            }
            p.group = Some(pairs);
            Ok(Node::Path(p))
        }
        Node::Filtered(mut f) => {
            if f.group.is_some() {
                return Err(dup());
            }
            f.group = Some(pairs);
            Ok(Node::Filtered(f))
        }
        other => Ok(Node::Filtered(Box::new(Filtered {
            expr: other,
            stages: Vec::new(),
            keep_array: false,
            group: Some(pairs),
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(src: &str) -> usize {
        match parse(src) {
            Ok(Node::Path(p)) => p.steps.len(),
            _ => 0,
        }
    }

    #[test]
    fn dotted_path_flattens_steps() {
        assert_eq!(steps("a.b.c"), 3);
    }
    #[test]
    fn variable_path_has_variable_first_step() {
        assert_eq!(steps("$states.input.x"), 3);
    }
    #[test]
    fn predicate_becomes_stage() {
        match parse("a.b[0]") {
            Ok(Node::Path(p)) => assert_eq!(p.steps[1].stages.len(), 1),
            other => panic!("{other:?}"),
        }
    }
    #[test]
    fn literal_step_is_s0213() {
        assert_eq!(parse("a.1").unwrap_err().code, "S0213");
    }
    #[test]
    fn bind_requires_variable() {
        assert_eq!(parse("a := 1").unwrap_err().code, "S0212");
    }
    #[test]
    fn trailing_tokens_are_syntax_error() {
        assert_eq!(parse("1 2").unwrap_err().code, "S0201");
    }
    #[test]
    fn unclosed_paren_is_s0203() {
        assert_eq!(parse("(1").unwrap_err().code, "S0203");
    }
    #[test]
    fn deep_nesting_is_an_error() {
        let src = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(parse(&src).unwrap_err().code, "U1001");
    }
    #[test]
    fn empty_input_is_s0207() {
        assert_eq!(parse("").unwrap_err().code, "S0207");
    }
}
