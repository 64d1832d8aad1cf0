//! A definition `Value` nested far deeper than JSON text allows (serde_json stops at 128)
//! must still be rejected or accepted without crashing. Kept in its own test binary: a
//! stack overflow aborts the whole process, which would take other tests down with it.

use serde_json::json;

#[test]
fn deeply_nested_parameters_value_does_not_crash() {
    let mut v = json!({"x.$": "$.a"});
    for _ in 0..1000 {
        v = json!({"k": v});
    }
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": v, "End": true}}});
    let result = asl::definition::StateMachine::parse(&def);
    // Either outcome is acceptable; crashing is not.
    let _ = result.map(|_| ()).map_err(|d| assert!(!d.is_empty()));
    // serde_json's own recursive drop is not under test: leak the deep value.
    std::mem::forget(def);
}
