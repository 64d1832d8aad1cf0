//! The ARNs of a distributed Map's map runs and child executions.
//!
//! AWS names them `arn:…:mapRun:<machine>/<label>:<id>` and
//! `arn:…:execution:<machine>/<label>:<id>`. Stepline's `<id>` is made of the parent
//! execution's name, a number unique within that execution, and for a child its item
//! index (`<execution>.<n>` and `<execution>.<n>.<index>`), so that the parent, whose
//! shard holds everything about its map runs, can be found from either ARN without a
//! lookup. AWS's ids are UUIDs; ARNs are opaque to callers either way.

/// The ARN of map run `n` of a Map labelled `label` in the execution `execution_arn`
/// (`arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`).
pub fn map_run_arn(execution_arn: &str, label: &str, n: u64) -> String {
    match split_execution(execution_arn) {
        Some((prefix, machine, name)) => format!("{prefix}:mapRun:{machine}/{label}:{name}.{n}"),
        // Not a standard execution ARN (an EXPRESS one, say): a distinct, if unroutable, name.
        None => format!("{execution_arn}/{label}.{n}"),
    }
}

/// The ARN of the child execution that runs item `index` of map run `map_run_arn`.
pub fn child_execution_arn(map_run_arn: &str, index: usize) -> String {
    match map_run_arn.split_once(":mapRun:") {
        Some((prefix, rest)) => format!("{prefix}:execution:{rest}.{index}"),
        None => format!("{map_run_arn}.{index}"),
    }
}

/// The parent execution's ARN of a map run ARN of the form [`map_run_arn`] makes, or of
/// the form earlier versions made (`arn:…:mapRun:<machine>:<execution>/<label>`).
pub fn map_run_parent(map_run_arn: &str) -> Option<String> {
    let (prefix, rest) = map_run_arn.split_once(":mapRun:")?;
    let (machine_label, id) = rest.split_once(':')?;
    match machine_label.split_once('/') {
        Some((machine, label)) => {
            // The number is not checked: a well-formed ARN of a run that never was is
            // answered as not found, not as malformed.
            let (name, n) = id.rsplit_once('.')?;
            (valid_part(machine) && valid_part(label) && valid_part(name) && valid_part(n))
                .then(|| format!("{prefix}:execution:{machine}:{name}"))
        }
        None => {
            let (name, label) = id.split_once('/')?;
            (valid_part(machine_label) && valid_part(name) && valid_part(label))
                .then(|| format!("{prefix}:execution:{machine_label}:{name}"))
        }
    }
}

/// The label a map run ARN carries.
pub fn map_run_label(map_run_arn: &str) -> Option<&str> {
    let (_, rest) = map_run_arn.split_once(":mapRun:")?;
    let (machine_label, id) = rest.split_once(':')?;
    match machine_label.split_once('/') {
        Some((_, label)) => Some(label),
        None => id.split_once('/').map(|(_, label)| label),
    }
}

/// A child execution ARN's parts: its map run's ARN and its item index; None for any
/// other ARN.
pub fn child_execution_parts(arn: &str) -> Option<(String, usize)> {
    let (prefix, rest) = arn.split_once(":execution:")?;
    let (machine_label, id) = rest.split_once(':')?;
    machine_label.split_once('/')?;
    let (run_id, index) = id.rsplit_once('.')?;
    let map_run = format!("{prefix}:mapRun:{machine_label}:{run_id}");
    map_run_parent(&map_run)?;
    index.parse().ok().filter(|_| is_number(index)).map(|i| (map_run, i))
}

/// The parent execution's ARN of a child execution ARN; None for any other ARN.
pub fn child_execution_parent(arn: &str) -> Option<String> {
    child_execution_parts(arn).and_then(|(map_run, _)| map_run_parent(&map_run))
}

/// The state machine ARN AWS gives a map run's child executions:
/// `arn:…:stateMachine:<machine>/<label>`.
pub fn child_state_machine_arn(map_run_arn: &str) -> Option<String> {
    let (prefix, rest) = map_run_arn.split_once(":mapRun:")?;
    let (machine_label, _) = rest.split_once(':')?;
    machine_label.contains('/').then(|| format!("{prefix}:stateMachine:{machine_label}"))
}

/// `arn:<partition>:states:<region>:<account>`, machine and name of a standard execution ARN.
fn split_execution(arn: &str) -> Option<(&str, &str, &str)> {
    let (prefix, rest) = arn.split_once(":execution:")?;
    let (machine, name) = rest.split_once(':')?;
    (valid_part(machine) && valid_part(name)).then_some((prefix, machine, name))
}

fn valid_part(s: &str) -> bool {
    !s.is_empty() && !s.contains([':', '/'])
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:orders:run.1";

    #[test]
    fn map_run_and_child_arns_lead_back_to_the_parent() {
        let run = map_run_arn(EXEC, "Fan", 7);
        assert_eq!(run, "arn:aws:states:us-east-1:123456789012:mapRun:orders/Fan:run.1.7");
        assert_eq!(map_run_parent(&run).as_deref(), Some(EXEC));
        assert_eq!(map_run_label(&run), Some("Fan"));
        let child = child_execution_arn(&run, 42);
        assert_eq!(child, "arn:aws:states:us-east-1:123456789012:execution:orders/Fan:run.1.7.42");
        assert_eq!(child_execution_parts(&child), Some((run.clone(), 42)));
        assert_eq!(child_execution_parent(&child).as_deref(), Some(EXEC));
        assert_eq!(
            child_state_machine_arn(&run).as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:stateMachine:orders/Fan")
        );
    }

    #[test]
    fn earlier_map_run_arns_still_resolve() {
        let old = "arn:aws:states:us-east-1:123456789012:mapRun:orders:run.1/Fan";
        assert_eq!(map_run_parent(old).as_deref(), Some(EXEC));
        assert_eq!(map_run_label(old), Some("Fan"));
    }

    #[test]
    fn other_arns_are_not_children() {
        assert_eq!(child_execution_parts(EXEC), None);
        assert_eq!(child_execution_parts("arn:aws:states:us-east-1:1:execution:m/l:x.y.z"), None);
        assert_eq!(map_run_parent("arn:aws:states:us-east-1:1:mapRun:m/l:x"), None);
        assert_eq!(map_run_parent("arn:aws:states:us-east-1:1:mapRun:m/l:x."), None);
        assert_eq!(map_run_parent("not an arn"), None);
    }
}
