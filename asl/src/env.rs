//! What an evaluation may read besides its input: variables, the context object,
//! and injected randomness and time (so the engine stays deterministic).

use serde_json::Value;

/// The bindings and effects an expression evaluation can use.
///
/// The engine implements this over an execution's state; tests implement it over
/// fixed values. Randomness and time come from here so that evaluation is pure.
pub trait Environment {
    /// The value of workflow variable `name` (set by `Assign`), if it is in scope.
    fn variable(&self, name: &str) -> Option<&Value>;
    /// The context object (`$$` in JSONPath, `$states.context` in JSONata).
    fn context(&self) -> &Value;
    /// A uniformly distributed number in `[0, 1)`.
    fn random(&self) -> f64;
    /// A random version-4 UUID, as text.
    fn uuid(&self) -> String;
    /// The current time in milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// A fixed environment for tests and for evaluating outside an execution.
#[derive(Debug, Clone, Default)]
pub struct StaticEnv {
    /// Variables by name.
    pub variables: serde_json::Map<String, Value>,
    /// The context object.
    pub context: Value,
    /// Returned by `random()`.
    pub random: f64,
    /// Returned by `uuid()`.
    pub uuid: String,
    /// Returned by `now_millis()`.
    pub now_millis: i64,
}

impl Environment for StaticEnv {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }
    fn context(&self) -> &Value {
        &self.context
    }
    fn random(&self) -> f64 {
        self.random
    }
    fn uuid(&self) -> String {
        self.uuid.clone()
    }
    fn now_millis(&self) -> i64 {
        self.now_millis
    }
}
