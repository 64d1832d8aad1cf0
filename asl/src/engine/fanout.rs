//! Parallel branches and Map iterations: starting children up to MaxConcurrency,
//! collecting results in order, tolerated failures, and aborting the rest on failure.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::child_executions::ChildRecords;
use super::eval::{compact, quote_value};
use super::states::{Outcome, Run};
use super::{ChildResume, Execution, FrameEnd, FrameId, Phase, RedrivePoint};
use crate::definition::{Dynamic, ItemSelector, MachineId, MapSpec, PathField, State, StateKind};
use crate::failure::Failure;
use crate::map_run_arns::map_run_arn;

/// Most children a distributed Map runs at once when its MaxConcurrency is unset or 0.
const DISTRIBUTED_MAX_CONCURRENCY: usize = 10_000;

/// Which state type owns the children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FanoutKind {
    /// Parallel branches.
    Parallel,
    /// Map iterations; distributed ones are recorded as a map run.
    Map {
        /// `ProcessorConfig.Mode: DISTRIBUTED`.
        distributed: bool,
    },
}

/// Progress of a Parallel or Map state's children.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fanout {
    kind: FanoutKind,
    inputs: Vec<Option<(MachineId, Value)>>,
    next: usize,
    running: usize,
    results: Vec<Value>,
    failures: usize,
    max_concurrency: usize,
    tolerance: Option<Tolerance>,
    last_failure: Option<(String, String)>,
    /// Where each child that failed (tolerated or not) stood then.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    failed_at: BTreeMap<usize, RedrivePoint>,
    /// Children that a redrive resumes at a point instead of at their start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    resume_at: BTreeMap<usize, RedrivePoint>,
    /// Every child's progress when the state failed, for a redrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed_progress: Option<Vec<ChildResume>>,
    /// A distributed Map's child executions (None for everything else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) children: Option<ChildRecords>,
}

impl Fanout {
    /// The children's progress recorded when the state failed.
    pub(super) fn snapshot(&self) -> Option<&Vec<ChildResume>> {
        self.failed_progress.as_ref()
    }

    /// Whether the children are executions of their own (a distributed Map's).
    pub(super) fn runs_child_executions(&self) -> bool {
        self.kind == (FanoutKind::Map { distributed: true })
    }

    fn all_done(&self) -> bool {
        self.running == 0 && self.next >= self.inputs.len()
    }
}

/// Map's ToleratedFailureCount and ToleratedFailurePercentage.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Tolerance {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    /// Whether `failures` of `total` children exceed it: with both thresholds set,
    /// exceeding either one fails the Map.
    fn exceeded(&self, failures: usize, total: usize) -> bool {
        let over_count = self.count.is_some_and(|c| failures as u64 > c);
        let over_pct = self.percentage.is_some_and(|p| failures as f64 * 100.0 / total.max(1) as f64 > p);
        over_count || over_pct
    }
}

/// A map run as it started, for DescribeMapRun: its ARN and the limits it started with,
/// as resolved from the definition (0 where unset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunStart {
    /// The map run's ARN.
    pub map_run_arn: String,
    /// MaxConcurrency.
    pub max_concurrency: u64,
    /// ToleratedFailureCount.
    pub tolerated_failure_count: u64,
    /// ToleratedFailurePercentage.
    pub tolerated_failure_percentage: f64,
}

/// UpdateMapRun's new limits for a running map run; `None` leaves a limit as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MapRunUpdate {
    /// MaxConcurrency (0: as many as a distributed Map runs at most).
    pub max_concurrency: Option<u64>,
    /// ToleratedFailureCount.
    pub tolerated_failure_count: Option<u64>,
    /// ToleratedFailurePercentage (0 to 100).
    pub tolerated_failure_percentage: Option<f64>,
}

impl Fanout {
    /// The failures it tolerates: a distributed Map tolerates none unless told to.
    fn effective_tolerance(&self) -> Option<Tolerance> {
        match (self.tolerance, self.kind) {
            (None, FanoutKind::Map { distributed: true }) => Some(Tolerance { count: Some(0), percentage: None }),
            (t, _) => t,
        }
    }
}

/// How a Map fails when more children failed than it tolerates.
fn threshold_exceeded() -> Failure {
    Failure::new("States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded")
}

/// A distributed Map's MaxConcurrency as it runs: 0 (unset) and anything above AWS's
/// limit become that limit.
fn distributed_concurrency(n: usize) -> usize {
    if n == 0 { DISTRIBUTED_MAX_CONCURRENCY } else { n.min(DISTRIBUTED_MAX_CONCURRENCY) }
}

impl Run<'_, '_> {
    /// Starts a Parallel's branches or a Map's iterations.
    pub fn start_fanout(
        &mut self,
        fid: FrameId,
        state: &State,
        kind: FanoutKind,
        inputs: Vec<(MachineId, Value)>,
        max_concurrency: Option<usize>,
        tolerance: Option<Tolerance>,
    ) -> Result<Outcome, Failure> {
        let total = inputs.len();
        let mut children = None;
        match kind {
            FanoutKind::Parallel => {
                self.record_at(fid, "ParallelStateStarted", None);
            }
            FanoutKind::Map { distributed } => {
                self.record_at(fid, "MapStateStarted", Some(json!({"length": total})));
                if distributed {
                    // AWS names a map run after the Map's Label when it has one.
                    let (label, express) = match &state.kind {
                        StateKind::Map(spec) => (spec.label.as_deref(), spec.express_children),
                        _ => (None, false),
                    };
                    let n = self.exec.fresh_id();
                    let arn = map_run_arn(&self.exec.info.execution_arn, label.unwrap_or(&state.name), n);
                    self.record_at(fid, "MapRunStarted", Some(json!({"mapRunArn": arn})));
                    self.exec.started_map_runs.push(MapRunStart {
                        map_run_arn: arn.clone(),
                        max_concurrency: max_concurrency.unwrap_or(0) as u64,
                        tolerated_failure_count: tolerance.and_then(|t| t.count).unwrap_or(0),
                        tolerated_failure_percentage: tolerance.and_then(|t| t.percentage).unwrap_or(0.0),
                    });
                    children = Some(ChildRecords::new(arn, express));
                }
            }
        }
        let mut fanout = Fanout {
            kind,
            inputs: inputs.into_iter().map(Some).collect(),
            next: 0,
            running: 0,
            results: vec![Value::Null; total],
            failures: 0,
            // AWS runs at most 10,000 of a distributed Map's children at once.
            max_concurrency: match (max_concurrency.unwrap_or(0), kind) {
                (n, FanoutKind::Map { distributed: true }) => distributed_concurrency(n),
                (n, _) => n,
            },
            tolerance,
            last_failure: None,
            failed_at: BTreeMap::new(),
            resume_at: BTreeMap::new(),
            failed_progress: None,
            children,
        };
        // A redrive keeps the children that succeeded and resumes the others where they
        // stood (a definition whose child count changed reruns them all).
        let resume = self.exec.frames.get_mut(&fid).and_then(|f| f.resume.take());
        if let Some(children) = resume.filter(|c| c.len() == total) {
            for (i, child) in children.into_iter().enumerate() {
                match child {
                    ChildResume::Pending => {}
                    ChildResume::Done(result) => {
                        fanout.results[i] = result;
                        fanout.inputs[i] = None;
                    }
                    ChildResume::At(point) => {
                        fanout.resume_at.insert(i, *point);
                    }
                }
            }
        }
        if total == 0 {
            self.fanout_succeeded(fid, kind, Vec::new());
            return Ok(Outcome::Parked);
        }
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.phase = Phase::Fanout(Box::new(fanout));
        }
        self.start_more(fid);
        self.finish_if_done(fid);
        Ok(Outcome::Parked)
    }

    /// Starts children while concurrency allows; the first started runs first.
    fn start_more(&mut self, fid: FrameId) {
        let mut started = Vec::new();
        loop {
            let Some(f) = self.exec.frames.get_mut(&fid) else {
                return;
            };
            let Phase::Fanout(fan) = &mut f.phase else {
                return;
            };
            if fan.next >= fan.inputs.len() || (fan.max_concurrency > 0 && fan.running >= fan.max_concurrency) {
                break;
            }
            let index = fan.next;
            fan.next += 1;
            // None: a redrive kept its result.
            let Some((machine, input)) = fan.inputs[index].take() else {
                continue;
            };
            fan.running += 1;
            let point = fan.resume_at.remove(&index);
            started.push((index, machine, input, fan.kind, point));
        }
        let state_name = self.exec.frames.get(&fid).map(|f| f.state.clone()).unwrap_or_default();
        let mut ids = Vec::new();
        for (index, machine, input, kind, point) in started {
            if kind == (FanoutKind::Map { distributed: false }) {
                self.record_at(fid, "MapIterationStarted", Some(json!({"name": state_name, "index": index})));
            }
            if kind == (FanoutKind::Map { distributed: true }) {
                let child_input = point.as_ref().map_or_else(|| input.clone(), |p| p.input.clone());
                self.child_execution_started(fid, index, child_input);
            }
            let id = match point {
                Some(point) => self.resume_frame(machine, Some((fid, index)), point),
                None => {
                    let start_at = self.machine.machine(machine).start_at.clone();
                    self.new_frame(machine, Some((fid, index)), start_at, input)
                }
            };
            ids.push(id);
        }
        for id in ids.into_iter().rev() {
            self.ready.push(id);
        }
    }

    /// A child frame ended; `point` is where it stood if it failed.
    pub fn child_done(&mut self, parent: FrameId, index: usize, end: FrameEnd, point: Option<RedrivePoint>) {
        let state_name = self.exec.frames.get(&parent).map(|f| f.state.clone()).unwrap_or_default();
        let Some(Phase::Fanout(fan)) = self.exec.frames.get_mut(&parent).map(|f| &mut f.phase) else {
            return;
        };
        fan.running = fan.running.saturating_sub(1);
        let kind = fan.kind;
        let inline_map = kind == FanoutKind::Map { distributed: false };
        let total = fan.inputs.len();
        let mut fail = None;
        let iteration_failed = matches!(end, FrameEnd::Failed { .. });
        match end {
            FrameEnd::Succeeded(v) => {
                if let Some(slot) = fan.results.get_mut(index) {
                    *slot = v;
                }
            }
            FrameEnd::Failed { error, cause } => {
                if let Some(point) = point {
                    fan.failed_at.insert(index, point);
                }
                fan.failures += 1;
                fan.last_failure = Some((error.clone(), cause.clone()));
                // A distributed Map fails for the threshold, not with the child's error
                // (the child's history has that).
                match fan.effective_tolerance() {
                    Some(t) => {
                        if t.exceeded(fan.failures, total) {
                            fail = Some(threshold_exceeded());
                        }
                    }
                    None => fail = Some(Failure::new(error, cause)),
                }
            }
        }
        if inline_map {
            let t = if iteration_failed { "MapIterationFailed" } else { "MapIterationSucceeded" };
            self.record_at(parent, t, Some(json!({"name": state_name, "index": index})));
        }
        if let Some(failure) = fail {
            self.fanout_failed(parent, kind, failure);
            return;
        }
        self.start_more(parent);
        self.finish_if_done(parent);
    }

    /// UpdateMapRun: applies new limits to the running map run `map_run_arn` (nothing
    /// when it no longer runs). A higher MaxConcurrency starts more children at once; a
    /// threshold that the failures so far exceed fails the Map now.
    pub(super) fn update_map_run(&mut self, map_run_arn: &str, update: MapRunUpdate) {
        let Some((fid, fan)) = self.exec.frames.iter_mut().find_map(|(id, f)| match &mut f.phase {
            Phase::Fanout(fan) if fan.children.as_ref().is_some_and(|c| c.map_run_arn == map_run_arn) => {
                Some((*id, fan))
            }
            _ => None,
        }) else {
            return;
        };
        if let Some(n) = update.max_concurrency {
            fan.max_concurrency = distributed_concurrency(usize::try_from(n).unwrap_or(usize::MAX));
        }
        if update.tolerated_failure_count.is_some() || update.tolerated_failure_percentage.is_some() {
            let mut t = fan.tolerance.unwrap_or(Tolerance { count: None, percentage: None });
            t.count = update.tolerated_failure_count.or(t.count);
            t.percentage = update.tolerated_failure_percentage.or(t.percentage);
            fan.tolerance = Some(t);
        }
        let exceeded =
            fan.failures > 0 && fan.effective_tolerance().is_some_and(|t| t.exceeded(fan.failures, fan.inputs.len()));
        let kind = fan.kind;
        if exceeded {
            self.fanout_failed(fid, kind, threshold_exceeded());
            return;
        }
        self.start_more(fid);
    }

    /// Fails a Parallel or Map whose child failed (or whose failures passed its
    /// threshold): the other children are aborted and the state fails with `failure`.
    fn fanout_failed(&mut self, parent: FrameId, kind: FanoutKind, failure: Failure) {
        let progress = self.exec.children_progress(parent);
        if let Some(Phase::Fanout(fan)) = self.exec.frames.get_mut(&parent).map(|f| &mut f.phase) {
            fan.failed_progress = Some(progress);
        }
        self.abort_children(parent);
        // AWS records the state's failure only when no retrier takes it up.
        let retried = self.will_retry(parent, &failure);
        match kind {
            FanoutKind::Parallel if !retried => {
                self.record_at(parent, "ParallelStateFailed", None);
            }
            FanoutKind::Map { distributed } => {
                if distributed {
                    let details = json!({"error": failure.error, "cause": failure.cause});
                    self.record_at(parent, "MapRunFailed", Some(details));
                }
                if !retried {
                    self.record_at(parent, "MapStateFailed", None);
                }
            }
            FanoutKind::Parallel => {}
        };
        self.fail_state(parent, failure);
    }

    /// Succeeds the fanout once every child has ended (or was kept by a redrive).
    fn finish_if_done(&mut self, fid: FrameId) {
        let Some(Phase::Fanout(fan)) = self.exec.frames.get_mut(&fid).map(|f| &mut f.phase) else {
            return;
        };
        if !fan.all_done() {
            return;
        }
        let kind = fan.kind;
        let results = std::mem::take(&mut fan.results);
        self.fanout_succeeded(fid, kind, results);
    }

    fn fanout_succeeded(&mut self, fid: FrameId, kind: FanoutKind, results: Vec<Value>) {
        match kind {
            FanoutKind::Parallel => {
                self.record_at(fid, "ParallelStateSucceeded", None);
            }
            FanoutKind::Map { distributed } => {
                if distributed {
                    self.record_at(fid, "MapRunSucceeded", None);
                }
                self.record_at(fid, "MapStateSucceeded", None);
            }
        }
        self.complete(fid, Value::Array(results));
    }

    /// Map in JSONPath mode: items from ItemsPath, each through ItemSelector.
    pub fn start_map_jsonpath(
        &mut self,
        fid: FrameId,
        state: &State,
        spec: &MapSpec,
        effective: Value,
    ) -> Result<Outcome, Failure> {
        if let Some(reader) = &spec.item_reader {
            return self.read_items(fid, reader, &effective);
        }
        let items = match &spec.items_path {
            PathField::Path(p) => {
                self.with_env(fid, None, None, |env| p.select_for_field(&effective, env, "ItemsPath"))?
            }
            _ => effective.clone(),
        };
        let Value::Array(items) = items else {
            return Err(Failure::runtime(format!("Map state input must be an array but was: {}", compact(&items))));
        };
        self.start_items(fid, state, spec, items, &effective)
    }

    /// Map in JSONata mode: items from `Items` (default the input), each through ItemSelector.
    pub fn start_map_jsonata(&mut self, fid: FrameId, state: &State, spec: &MapSpec) -> Result<Outcome, Failure> {
        let input = self.exec.frames[&fid].input.clone();
        if let Some(reader) = &spec.item_reader {
            return self.read_items(fid, reader, &input);
        }
        let items = match &spec.items {
            Some(t) => {
                let v = self.with_env(fid, Some(self.states_base(fid, None)), None, |env| {
                    super::eval::jsonata(t, env, "Items")
                })?;
                if !v.is_array() {
                    let src = match t {
                        crate::definition::JsonataTemplate::Expression(e) => e.source().to_string(),
                        _ => compact(&v),
                    };
                    return Err(super::eval::unexpected_type(&src, "Items", "array", &v));
                }
                v
            }
            None => input.clone(),
        };
        let Value::Array(items) = items else {
            return Err(Failure::query(format!("Map state input must be an array but was: {}", compact(&items))));
        };
        self.start_items(fid, state, spec, items, &input)
    }

    /// Shapes each item with ItemSelector (with `$$.Map.Item` set), batches them, and
    /// starts the iterations within the Map's limits.
    pub(super) fn start_items(
        &mut self,
        fid: FrameId,
        state: &State,
        spec: &MapSpec,
        items: Vec<Value>,
        input: &Value,
    ) -> Result<Outcome, Failure> {
        let max_concurrency = self.map_max_concurrency(fid, spec, input)?;
        let tolerance = match self.map_tolerance(fid, spec, input) {
            Ok(tolerance) => tolerance,
            Err(failure) => {
                // AWS reads the tolerated failures once the Map has started.
                self.record_at(fid, "MapStateStarted", Some(json!({"length": items.len()})));
                return Err(failure);
            }
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let child_input = match &spec.item_selector {
                Some(ItemSelector::JsonPath(t)) => {
                    self.with_env(fid, None, Some((i, &item)), |env| t.evaluate(input, env))?
                }
                Some(ItemSelector::Jsonata(t)) => {
                    let states = self.states_base(fid, None);
                    self.with_env(fid, Some(states), Some((i, &item)), |env| {
                        super::eval::jsonata(t, env, "ItemSelector")
                    })?
                }
                None => item,
            };
            inputs.push((spec.processor, child_input));
        }
        let inputs = self.batch(fid, spec, inputs, input)?;
        self.start_fanout(
            fid,
            state,
            FanoutKind::Map { distributed: spec.distributed },
            inputs,
            max_concurrency,
            tolerance,
        )
    }

    fn batch(
        &mut self,
        fid: FrameId,
        spec: &MapSpec,
        inputs: Vec<(MachineId, Value)>,
        input: &Value,
    ) -> Result<Vec<(MachineId, Value)>, Failure> {
        let Some(b) = &spec.item_batcher else {
            return Ok(inputs);
        };
        let size = match &b.max_items_per_batch {
            Some(d) => self.dynamic_number(fid, d, input, "MaxItemsPerBatch")?.max(1) as usize,
            None => usize::MAX,
        };
        let mut out = Vec::new();
        let mut iter = inputs.into_iter().peekable();
        while iter.peek().is_some() {
            let chunk: Vec<Value> = iter.by_ref().take(size).map(|(_, v)| v).collect();
            let mut obj = serde_json::Map::new();
            if let Some(Value::Object(extra)) = &b.batch_input {
                obj.insert("BatchInput".into(), Value::Object(extra.clone()));
            }
            obj.insert("Items".into(), Value::Array(chunk));
            out.push((spec.processor, Value::Object(obj)));
        }
        Ok(out)
    }

    /// A number field given as a literal, a `...Path` or a JSONata expression; `field` is
    /// its name without `Path`, `kind` AWS's word for the expected type.
    fn dynamic_value<T: Copy>(
        &mut self,
        fid: FrameId,
        d: &Dynamic<T>,
        input: &Value,
        field: &str,
        kind: &str,
        convert: fn(&Value) -> Option<T>,
    ) -> Result<T, Failure> {
        match d {
            Dynamic::Fixed(n) => Ok(*n),
            Dynamic::Path(p) => {
                let v = self.with_env(fid, None, None, |env| p.select(input, env));
                v.as_ref().and_then(convert).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The {field}Path field refers to value \"{}\" which is not a valid {kind}: {}",
                        v.as_ref().map(quote_value).unwrap_or_else(|| "null".into()),
                        p.text()
                    ))
                })
            }
            Dynamic::Jsonata(e) => {
                let v = self.eval_expression(fid, e, field)?;
                convert(&v).ok_or_else(|| super::eval::unexpected_type(e.source(), field, kind, &v))
            }
            Dynamic::Intrinsic(_) => Err(Failure::runtime(format!("{field} cannot be an intrinsic function"))),
        }
    }

    pub(super) fn dynamic_number(
        &mut self,
        fid: FrameId,
        d: &Dynamic<i64>,
        input: &Value,
        field: &str,
    ) -> Result<i64, Failure> {
        self.dynamic_value(fid, d, input, field, "integer", value_as_int)
    }

    fn map_max_concurrency(&mut self, fid: FrameId, spec: &MapSpec, input: &Value) -> Result<Option<usize>, Failure> {
        Ok(match &spec.max_concurrency {
            Some(d) => Some(self.dynamic_number(fid, d, input, "MaxConcurrency")?.max(0) as usize),
            None => None,
        })
    }

    fn map_tolerance(&mut self, fid: FrameId, spec: &MapSpec, input: &Value) -> Result<Option<Tolerance>, Failure> {
        let count = match &spec.tolerated_failure_count {
            Some(d) => {
                let n = self.dynamic_number(fid, d, input, "ToleratedFailureCount")?;
                if n < 0 {
                    return Err(Failure::runtime("ToleratedFailureCount cannot be negative."));
                }
                Some(n as u64)
            }
            None => None,
        };
        let percentage = match &spec.tolerated_failure_percentage {
            Some(d) => {
                let p = self.dynamic_value(fid, d, input, "ToleratedFailurePercentage", "float", value_as_float)?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(Failure::runtime("ToleratedFailurePercentage must be between 0 and 100."));
                }
                Some(p)
            }
            None => None,
        };
        Ok(if count.is_some() || percentage.is_some() { Some(Tolerance { count, percentage }) } else { None })
    }
}

/// An integer from a JSON number (integral floats allowed), as AWS reads `...Path` integers.
fn value_as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        // AWS reads numeric strings too, e.g. a variable holding "1".
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A float from a JSON number or a numeric string, as AWS reads `...Path` floats.
fn value_as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

impl Execution {
    /// Where a live frame stands, with its children's progress if it runs a fanout.
    pub(super) fn live_point(&self, fid: FrameId) -> Option<RedrivePoint> {
        let frame = self.frames.get(&fid)?;
        let mut point = RedrivePoint::of(frame);
        if point.children.is_none() && matches!(frame.phase, Phase::Fanout(_)) {
            point.children = Some(self.children_progress(fid));
        }
        Some(point)
    }

    /// How far each child of the fanout `fid` got: kept results, failure points, and
    /// the points of the children still running.
    fn children_progress(&self, fid: FrameId) -> Vec<ChildResume> {
        let Some(Phase::Fanout(fan)) = self.frames.get(&fid).map(|f| &f.phase) else {
            return Vec::new();
        };
        let running: HashMap<usize, FrameId> = self
            .frames
            .iter()
            .filter_map(|(id, f)| f.parent.filter(|(p, _)| *p == fid).map(|(_, i)| (i, *id)))
            .collect();
        let result = |i: usize| ChildResume::Done(fan.results.get(i).cloned().unwrap_or(Value::Null));
        (0..fan.inputs.len())
            .map(|i| {
                if let Some(p) = fan.failed_at.get(&i).or_else(|| fan.resume_at.get(&i)) {
                    ChildResume::At(Box::new(p.clone()))
                } else if let Some(p) = running.get(&i).and_then(|c| self.live_point(*c)) {
                    ChildResume::At(Box::new(p))
                } else if i >= fan.next {
                    // Not started: kept by an earlier redrive, or still to run.
                    if fan.inputs[i].is_none() { result(i) } else { ChildResume::Pending }
                } else {
                    result(i)
                }
            })
            .collect()
    }
}
