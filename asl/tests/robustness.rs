use asl::definition::StateMachine;
use asl::simulate::{SimulationOptions, TaskResult, simulate};
use serde_json::{Value, json};

fn run(def: &Value, fail: bool) {
    let m = match StateMachine::parse(def) {
        Ok(m) => m,
        Err(e) => {
            println!("parse err {:?}", &e[..e.len().min(2)]);
            return;
        }
    };
    let opts = SimulationOptions { max_transitions: 1000, ..Default::default() };
    let t = std::time::Instant::now();
    let o = simulate(&m, json!({}), &opts, &mut |_| {
        if fail { TaskResult::Failure { error: "E".into(), cause: "c".into() } } else { TaskResult::Success(json!(1)) }
    });
    println!("{:?} {:?} hist={} {:?}", o.status, o.cause, o.history.len(), t.elapsed());
}

#[test]
fn probe_retry() {
    run(
        &json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":100000,"IntervalSeconds":1,"BackoffRate":1.0}],"End":true}}}),
        true,
    );
}
#[test]
fn probe_deep_jsonata() {
    let d = 100000;
    let e = format!("{{% {}1{} %}}", "(".repeat(d), ")".repeat(d));
    run_forget(
        json!({"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":e,"End":true}}}),
        false,
    );
}
#[test]
fn probe_deep_intrinsic() {
    let d = 100000;
    let e = format!("{}1{}", "States.Array(".repeat(d), ")".repeat(d));
    run_forget(json!({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":e},"End":true}}}), false);
}
#[test]
fn probe_deep_jsonpath() {
    let d = 100000;
    let e = format!("${}", "[?(@.a == 1 && (".repeat(d));
    run_forget(json!({"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":e,"End":true}}}), false);
    let e = format!("$[?({}@.a{})]", "(".repeat(d), ")".repeat(d));
    run_forget(json!({"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":e,"End":true}}}), false);
}
#[test]
fn probe_deep_choice() {
    let mut c = json!({"Variable":"$.x","IsPresent":true});
    for _ in 0..20000 {
        c = json!({"Not": c});
    }
    let mut r = c;
    r["Next"] = json!("S");
    run(
        &json!({"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[r],"Default":"S"},"S":{"Type":"Succeed"}}}),
        false,
    );
}
#[test]
fn probe_deep_params() {
    let mut c = json!({"a.$":"$"});
    for _ in 0..20000 {
        c = json!({"x": c});
    }
    run_forget(json!({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":c,"End":true}}}), false);
}
#[test]
fn probe_deep_parallel() {
    let mut m = json!({"StartAt":"S","States":{"S":{"Type":"Succeed"}}});
    for _ in 0..3000 {
        m = json!({"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[m],"End":true}}});
    }
    run_forget(m, false);
}

fn run_forget(def: Value, fail: bool) {
    run(&def, fail);
    std::mem::forget(def);
}
