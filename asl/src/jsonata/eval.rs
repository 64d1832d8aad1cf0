//! The tree-walking evaluator: paths with sequence semantics, operators, blocks, calls.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use indexmap::IndexMap;

use super::JsonataError;
use super::ast::{BinOp, Filtered, Node, PathNode, SortTerm, Step};
use super::error::{err, quote, quote_str, too_deep};
use super::functions::{self, Builtin};
pub(crate) use super::ops::{append, boolean, finish, to_string, truthy};
use super::ops::{binary, descendants, keep, lookup_field, wildcard};
use super::value::{Arr, Func, V};
use crate::env::Environment;

/// A result that may be `undefined` (`None`).
pub(crate) type Val<'a> = Option<V<'a>>;
/// Evaluation result.
pub(crate) type R<T> = Result<T, JsonataError>;

/// How deep evaluation may nest before it is stopped with `U1001`.
const MAX_DEPTH: usize = 20_000;

/// How much native stack one evaluation may use; frames are far larger in debug builds,
/// so measuring the stack (rather than only counting levels) keeps both builds safe on
/// 2 MiB threads while letting release builds recurse deeper.
const STACK_BUDGET: usize = 1024 * 1024;

/// Local bindings of a block or lambda call.
struct Frame<'a> {
    vars: Vec<(&'a str, Val<'a>)>,
    parent: Option<usize>,
}

/// One evaluation's state: environment, root input, frames and depth.
pub(crate) struct Evaluator<'a> {
    /// Variables, randomness and time.
    pub env: &'a dyn Environment,
    root: Val<'a>,
    frames: RefCell<Vec<Frame<'a>>>,
    depth: Cell<usize>,
    stack_base: usize,
}

/// The frame every evaluation starts in.
pub(crate) const ROOT_FRAME: usize = 0;

impl<'a> Evaluator<'a> {
    /// Prepares an evaluation over `root` (the input, `$$`).
    pub fn new(env: &'a dyn Environment, root: Val<'a>) -> Self {
        let probe = 0u8;
        Evaluator {
            stack_base: &probe as *const u8 as usize,
            env,
            root,
            frames: RefCell::new(vec![Frame { vars: Vec::new(), parent: None }]),
            depth: Cell::new(0),
        }
    }

    /// A new frame whose lookups fall back to `parent`.
    pub fn new_frame(&self, parent: usize) -> usize {
        let mut frames = self.frames.borrow_mut();
        frames.push(Frame { vars: Vec::new(), parent: Some(parent) });
        frames.len() - 1
    }

    /// Binds `name` in `frame`.
    pub fn bind(&self, frame: usize, name: &'a str, value: Val<'a>) {
        let mut frames = self.frames.borrow_mut();
        if let Some(f) = frames.get_mut(frame) {
            if let Some(slot) = f.vars.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = value;
            } else {
                f.vars.push((name, value));
            }
        }
    }

    /// Looks `name` up in local frames, then workflow variables, then builtins.
    pub fn lookup(&self, name: &str, frame: usize) -> Val<'a> {
        {
            let frames = self.frames.borrow();
            let mut cur = Some(frame);
            while let Some(i) = cur {
                let Some(f) = frames.get(i) else { break };
                if let Some((_, v)) = f.vars.iter().find(|(n, _)| *n == name) {
                    return v.clone();
                }
                cur = f.parent;
            }
        }
        if let Some(v) = self.env.variable(name) {
            return Some(V::from_ref(v));
        }
        functions::builtin(name).map(|b| V::Func(Rc::new(Func::Builtin(b))))
    }

    /// Whether `name` is bound anywhere but the builtins.
    fn bound(&self, name: &str, frame: usize) -> bool {
        let frames = self.frames.borrow();
        let mut cur = Some(frame);
        while let Some(i) = cur {
            let Some(f) = frames.get(i) else { break };
            if f.vars.iter().any(|(n, _)| *n == name) {
                return true;
            }
            cur = f.parent;
        }
        self.env.variable(name).is_some()
    }

    /// Counts one level of nesting; errors past the limit instead of overflowing the stack.
    pub fn enter(&self) -> R<()> {
        let d = self.depth.get() + 1;
        let probe = 0u8;
        let used = self.stack_base.abs_diff(&probe as *const u8 as usize);
        if d > MAX_DEPTH || used > STACK_BUDGET {
            return Err(too_deep());
        }
        self.depth.set(d);
        Ok(())
    }

    /// Leaves a level entered with [`Evaluator::enter`].
    pub fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    /// Evaluates `node` with context `input`; sequences come back unwrapped.
    pub fn eval(&self, node: &'a Node, input: Option<&V<'a>>, frame: usize) -> R<Val<'a>> {
        self.enter()?;
        let r = self.eval_inner(node, input, frame);
        self.leave();
        Ok(finish(r?))
    }

    fn eval_inner(&self, node: &'a Node, input: Option<&V<'a>>, frame: usize) -> R<Val<'a>> {
        Ok(match node {
            Node::Num(n) => Some(V::Num(*n)),
            Node::Str(s) => Some(V::StrRef(s)),
            Node::Bool(b) => Some(V::Bool(*b)),
            Node::Null => Some(V::Null),
            Node::Regex(re) => Some(V::Func(Rc::new(Func::Regex(re)))),
            Node::Name(n) => input.and_then(|i| lookup_field(i, n)),
            Node::Var(name) => match name.as_str() {
                "" => input.map(|i| match i {
                    V::Arr(a) if a.outer => a.items.first().cloned().unwrap_or(V::Null),
                    other => other.clone(),
                }),
                "$" => self.root.clone(),
                _ => self.lookup(name, frame),
            },
            Node::Wildcard => input.and_then(wildcard),
            Node::Descendants => input.and_then(|i| {
                let mut out = Vec::new();
                descendants(i, &mut out);
                (!out.is_empty()).then(|| V::seq(out))
            }),
            Node::Path(p) => self.eval_path(p, input, frame)?,
            Node::Neg(e) => match self.eval(e, input, frame)? {
                None => None,
                Some(V::Num(n)) => Some(V::Num(-n)),
                Some(other) => {
                    return Err(err("D1002", &format!("Cannot negate a non-numeric value: {}", quote(Some(&other)))));
                }
            },
            Node::Array { items, cons } => Some(self.eval_array(items, *cons, input, frame)?),
            Node::Object(pairs) => Some(self.eval_group(pairs, input.cloned(), frame)?),
            Node::Binary(op, l, r) => self.eval_binary(*op, l, r, input, frame)?,
            Node::Apply(l, r) => self.eval_apply(l, r, input, frame)?,
            Node::Cond(c, t, e) => {
                let cv = self.eval(c, input, frame)?;
                if truthy(cv.as_ref()) {
                    self.eval(t, input, frame)?
                } else if let Some(e) = e {
                    self.eval(e, input, frame)?
                } else {
                    None
                }
            }
            Node::Bind(name, e) => {
                let v = self.eval(e, input, frame)?;
                self.bind(frame, name, v.clone());
                v
            }
            Node::Block(items) => {
                let f = self.new_frame(frame);
                let mut last = None;
                for item in items {
                    last = self.eval(item, input, f)?;
                }
                last
            }
            Node::Call { func, args, partial } => self.eval_call(func, args, *partial, None, input, frame)?,
            Node::Placeholder => None,
            Node::Lambda(def) => Some(V::Func(Rc::new(Func::Lambda { def, frame, input: input.cloned() }))),
            Node::Filtered(f) => self.eval_filtered(f, input, frame)?,
            Node::Sort(terms) => {
                let items = input.cloned().map(V::into_items).unwrap_or_default();
                Some(V::seq(self.sort(terms, items, frame)?))
            }
        })
    }

    fn eval_filtered(&self, f: &'a Filtered, input: Option<&V<'a>>, frame: usize) -> R<Val<'a>> {
        let mut v = self.eval(&f.expr, input, frame)?;
        for stage in &f.stages {
            v = self.filter(stage, v, frame)?;
        }
        if f.keep_array {
            v = v.map(keep);
        }
        if let Some(pairs) = &f.group {
            return Ok(Some(self.eval_group(pairs, v, frame)?));
        }
        Ok(v)
    }

    fn eval_path(&self, p: &'a PathNode, input: Option<&V<'a>>, frame: usize) -> R<Val<'a>> {
        let mut current: Option<V<'a>> = None;
        for (i, step) in p.steps.iter().enumerate() {
            let last = i + 1 == p.steps.len();
            let result = if i == 0 {
                let first_is_var = matches!(step.node, Node::Var(_));
                match input {
                    // An undefined context still lets `$var` or `[...]` start a path.
                    None => self.eval_step(step, &[None], frame, last)?,
                    Some(inp) if inp.is_array() && !first_is_var => {
                        let items: Vec<Option<V<'a>>> = inp.arr_iter().map(Some).collect();
                        self.eval_step(step, &items, frame, last)?
                    }
                    Some(inp) => self.eval_step(step, &[Some(inp.clone())], frame, last)?,
                }
            } else {
                let prev = current.take().unwrap_or_else(|| V::seq(Vec::new()));
                let items: Vec<Option<V<'a>>> =
                    if prev.is_array() { prev.arr_iter().map(Some).collect() } else { vec![Some(prev)] };
                self.eval_step(step, &items, frame, last)?
            };
            let empty = result.is_array() && result.arr_len() == 0;
            current = Some(result);
            if empty {
                break;
            }
        }
        let mut result = current;
        if p.keep_array {
            result = result.map(keep);
        }
        if let Some(pairs) = &p.group {
            return Ok(Some(self.eval_group(pairs, result, frame)?));
        }
        Ok(result)
    }

    /// Evaluates one step over every item of the input sequence and flattens the results.
    fn eval_step(&self, step: &'a Step, items: &[Option<V<'a>>], frame: usize, last: bool) -> R<V<'a>> {
        if let Node::Sort(terms) = &step.node {
            let items: Vec<V<'a>> = items.iter().flatten().cloned().collect();
            let mut v = Some(V::seq(self.sort(terms, items, frame)?));
            for stage in &step.stages {
                v = self.filter(stage, v, frame)?;
            }
            return Ok(v.unwrap_or_else(|| V::seq(Vec::new())));
        }
        let mut results: Vec<V<'a>> = Vec::with_capacity(items.len());
        for item in items {
            let mut r = self.eval(&step.node, item.as_ref(), frame)?;
            for stage in &step.stages {
                r = self.filter(stage, r, frame)?;
            }
            if let Some(r) = r {
                results.push(r);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_seq() {
            return Ok(results.pop().unwrap_or(V::Null));
        }
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            if r.is_array() && !r.is_cons() {
                out.extend(r.arr_iter());
            } else {
                out.push(r);
            }
        }
        Ok(V::seq(out))
    }

    /// Applies a predicate `[...]` to a whole value: indexes or a boolean filter.
    pub fn filter(&self, pred: &'a Node, input: Val<'a>, frame: usize) -> R<Val<'a>> {
        let Some(input) = input else {
            return Ok(None);
        };
        let items: Vec<V<'a>> = input.into_items();
        let mut out = Vec::new();
        if let Node::Num(n) = pred {
            let mut idx = n.floor();
            if idx < 0.0 {
                idx += items.len() as f64;
            }
            if idx >= 0.0
                && let Some(item) = items.get(idx as usize)
            {
                if item.is_array() {
                    return Ok(Some(item.clone()));
                }
                out.push(item.clone());
            }
            return Ok(Some(V::seq(out)));
        }
        let len = items.len() as f64;
        for (index, item) in items.iter().enumerate() {
            let res = self.eval(pred, Some(item), frame)?;
            let nums: Option<Vec<f64>> = match &res {
                Some(V::Num(n)) => Some(vec![*n]),
                Some(v) if v.is_array() && v.arr_len() > 0 => v.arr_iter().map(|x| x.as_num()).collect(),
                _ => None,
            };
            if let Some(nums) = nums {
                let hit = nums.iter().any(|n| {
                    let mut i = n.floor();
                    if i < 0.0 {
                        i += len;
                    }
                    i == index as f64
                });
                if hit {
                    out.push(item.clone());
                }
            } else if truthy(res.as_ref()) {
                out.push(item.clone());
            }
        }
        Ok(Some(V::seq(out)))
    }

    fn eval_array(&self, items: &'a [Node], cons: bool, input: Option<&V<'a>>, frame: usize) -> R<V<'a>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(v) = self.eval(item, input, frame)? else { continue };
            let nested = matches!(item, Node::Array { .. })
                || matches!(item, Node::Filtered(f) if matches!(f.expr, Node::Array { .. }));
            if !nested && v.is_array() {
                out.extend(v.arr_iter());
            } else {
                out.push(v);
            }
        }
        Ok(V::Arr(Rc::new(Arr { items: out, cons, ..Arr::default() })))
    }

    /// Object construction: groups the context's items by key, then evaluates each value
    /// against the items of its group.
    pub fn eval_group(&self, pairs: &'a [(Node, Node)], input: Val<'a>, frame: usize) -> R<V<'a>> {
        let items: Vec<Option<V<'a>>> = match input {
            Some(v) if v.is_array() => {
                let items: Vec<Option<V<'a>>> = v.arr_iter().map(Some).collect();
                if items.is_empty() { vec![None] } else { items }
            }
            other => vec![other],
        };
        let mut groups: IndexMap<String, (usize, Option<V<'a>>)> = IndexMap::new();
        for item in &items {
            for (pi, (k, _)) in pairs.iter().enumerate() {
                let key = match self.eval(k, item.as_ref(), frame)? {
                    None => continue,
                    Some(kv) => match kv.as_str() {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(err(
                                "T1003",
                                &format!(
                                    "Key in object structure must evaluate to a string; got: {}",
                                    quote(Some(&kv))
                                ),
                            ));
                        }
                    },
                };
                match groups.get_mut(&key) {
                    Some((idx, data)) => {
                        if *idx != pi {
                            return Err(err(
                                "D1009",
                                &format!("Multiple key definitions evaluate to same key: {}", quote_str(&key)),
                            ));
                        }
                        *data = append(data.take(), item.clone());
                    }
                    None => {
                        groups.insert(key, (pi, item.clone()));
                    }
                }
            }
        }
        let mut out = IndexMap::with_capacity(groups.len());
        for (key, (pi, data)) in groups {
            if let Some(v) = self.eval(&pairs[pi].1, data.as_ref(), frame)? {
                out.insert(key, v);
            }
        }
        Ok(V::Obj(Rc::new(out)))
    }

    fn eval_binary(&self, op: BinOp, l: &'a Node, r: &'a Node, input: Option<&V<'a>>, frame: usize) -> R<Val<'a>> {
        match op {
            BinOp::And => {
                let lv = self.eval(l, input, frame)?;
                if !truthy(lv.as_ref()) {
                    return Ok(Some(V::Bool(false)));
                }
                let rv = self.eval(r, input, frame)?;
                return Ok(Some(V::Bool(truthy(rv.as_ref()))));
            }
            BinOp::Or => {
                let lv = self.eval(l, input, frame)?;
                if truthy(lv.as_ref()) {
                    return Ok(Some(V::Bool(true)));
                }
                let rv = self.eval(r, input, frame)?;
                return Ok(Some(V::Bool(truthy(rv.as_ref()))));
            }
            BinOp::Coalesce => {
                let lv = self.eval(l, input, frame)?;
                return if lv.is_some() { Ok(lv) } else { self.eval(r, input, frame) };
            }
            BinOp::Elvis => {
                let lv = self.eval(l, input, frame)?;
                return if truthy(lv.as_ref()) { Ok(lv) } else { self.eval(r, input, frame) };
            }
            _ => {}
        }
        let lv = self.eval(l, input, frame)?;
        let rv = self.eval(r, input, frame)?;
        binary(op, lv, rv)
    }

    fn eval_apply(&self, l: &'a Node, r: &'a Node, input: Option<&V<'a>>, frame: usize) -> R<Val<'a>> {
        let lv = self.eval(l, input, frame)?;
        if let Node::Call { func, args, partial } = r {
            return self.eval_call(func, args, *partial, Some(lv), input, frame);
        }
        let f = self.eval(r, input, frame)?;
        let Some(f @ V::Func(_)) = f else {
            return Err(err("T2006", "The right side of the function application operator ~> must be a function"));
        };
        if let Some(g @ V::Func(_)) = lv {
            return Ok(Some(V::Func(Rc::new(Func::Compose(g, f)))));
        }
        self.apply(&f, vec![lv], input)
    }

    fn eval_call(
        &self,
        func: &'a Node,
        args: &'a [Node],
        partial: bool,
        first: Option<Val<'a>>,
        input: Option<&V<'a>>,
        frame: usize,
    ) -> R<Val<'a>> {
        // Builtins are resolved without allocating a function value.
        let direct: Option<&'static Builtin> = match func {
            Node::Var(name) if !partial && !self.bound(name, frame) => functions::builtin(name),
            _ => None,
        };
        let f = match direct {
            Some(_) => None,
            None => self.eval(func, input, frame)?,
        };
        if direct.is_none()
            && f.is_none()
            && let Node::Path(p) = func
            && let [Step { node: Node::Name(n), .. }] = p.steps.as_slice()
            && functions::builtin(n).is_some()
        {
            return Err(err("T1005", &format!("Attempted to invoke a non-function. Did you mean ${n}?")));
        }
        let mut vals: Vec<Val<'a>> = Vec::with_capacity(args.len() + 1);
        let mut holes: Vec<bool> = Vec::new();
        if let Some(first) = first {
            vals.push(first);
            holes.push(false);
        }
        for a in args {
            holes.push(matches!(a, Node::Placeholder));
            vals.push(self.eval(a, input, frame)?);
        }
        if let Some(b) = direct {
            return functions::call_builtin(self, b, vals, input);
        }
        let Some(f @ V::Func(_)) = f else {
            if partial {
                return Err(err("T1008", "Attempted to partially apply a non-function"));
            }
            return Err(err("T1006", "Attempted to invoke a non-function"));
        };
        if partial {
            let args = vals.into_iter().zip(holes).map(|(v, hole)| if hole { None } else { Some(v) }).collect();
            return Ok(Some(V::Func(Rc::new(Func::Partial { func: f, args }))));
        }
        self.apply(&f, vals, input)
    }

    /// Calls a function value with arguments.
    pub fn apply(&self, f: &V<'a>, args: Vec<Val<'a>>, input: Option<&V<'a>>) -> R<Val<'a>> {
        let V::Func(func) = f else {
            return Err(err("T1006", "Attempted to invoke a non-function"));
        };
        self.enter()?;
        let r = self.apply_inner(func, args, input);
        self.leave();
        r.map(finish)
    }

    fn apply_inner(&self, func: &Func<'a>, args: Vec<Val<'a>>, input: Option<&V<'a>>) -> R<Val<'a>> {
        match func {
            Func::Builtin(b) => functions::call_builtin(self, b, args, input),
            Func::Lambda { def, frame, input: captured } => {
                let f = self.new_frame(*frame);
                let mut args = args.into_iter();
                for p in &def.params {
                    self.bind(f, p, args.next().flatten());
                }
                self.eval(&def.body, captured.as_ref(), f)
            }
            Func::Partial { func, args: fixed } => {
                let mut given = args.into_iter();
                let full = fixed
                    .iter()
                    .map(|a| match a {
                        Some(v) => v.clone(),
                        None => given.next().flatten(),
                    })
                    .collect();
                self.apply(func, full, input)
            }
            Func::Regex(re) => {
                let s = args.into_iter().next().flatten();
                Ok(s.as_ref().and_then(|s| s.as_str()).and_then(|s| functions::regex_match_object(re, s, 0)))
            }
            Func::Compose(g, h) => {
                let mid = self.apply(g, args, input)?;
                self.apply(h, vec![mid], input)
            }
        }
    }

    /// How many arguments a function takes, for higher-order builtins.
    pub fn arity(&self, f: &V<'a>) -> usize {
        match f {
            V::Func(func) => match &**func {
                Func::Builtin(b) => b.arity,
                Func::Lambda { def, .. } => def.params.len(),
                Func::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
                Func::Regex(_) => 1,
                Func::Compose(g, _) => self.arity(g),
            },
            _ => 0,
        }
    }

    fn sort(&self, terms: &'a [SortTerm], items: Vec<V<'a>>, frame: usize) -> R<Vec<V<'a>>> {
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            let mut keys = Vec::with_capacity(terms.len());
            for t in terms {
                let k = self.eval(&t.expr, Some(&item), frame)?;
                if let Some(k) = &k
                    && k.as_num().is_none()
                    && k.as_str().is_none()
                {
                    return Err(err(
                        "T2008",
                        "The expressions within an order-by clause must evaluate to numeric or string values",
                    ));
                }
                keys.push(k);
            }
            keyed.push((keys, item));
        }
        let mut failure = None;
        keyed.sort_by(|a, b| {
            for (i, t) in terms.iter().enumerate() {
                let ord = match (&a.0[i], &b.0[i]) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => {
                        let o = match (x.as_num(), y.as_num(), x.as_str(), y.as_str()) {
                            (Some(p), Some(q), _, _) => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
                            (_, _, Some(p), Some(q)) => p.cmp(q),
                            _ => {
                                failure.get_or_insert_with(|| {
                                    err(
                                        "T2007",
                                        &format!(
                                            "Type mismatch when comparing values {} and {} in order-by clause",
                                            quote(Some(x)),
                                            quote(Some(y))
                                        ),
                                    )
                                });
                                std::cmp::Ordering::Equal
                            }
                        };
                        if t.desc { o.reverse() } else { o }
                    }
                };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(keyed.into_iter().map(|(_, v)| v).collect())
    }
}
