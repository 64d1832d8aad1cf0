//! A state machine's `loggingConfiguration` and `tracingConfiguration`: validated as AWS
//! validates them, kept with the machine and given back by Describe calls. Stepline
//! delivers no logs to CloudWatch; it keeps the settings so that tools which read them
//! back (Terraform, CloudFormation drift checks) see what they wrote.

use serde_json::{Value, json};

use super::{ApiError, Params};

/// The levels AWS accepts.
const LEVELS: [&str; 4] = ["ALL", "ERROR", "FATAL", "OFF"];

/// The `loggingConfiguration` parameter, normalised, or None when absent.
pub fn logging(p: &Params) -> Result<Option<Value>, ApiError> {
    let Some(v) = p.0.get("loggingConfiguration").filter(|v| !v.is_null()) else { return Ok(None) };
    let Value::Object(o) = v else {
        return Err(ApiError::new("SerializationException", "'loggingConfiguration' must be an object"));
    };
    let level = o.get("level").and_then(Value::as_str).unwrap_or("OFF");
    if !LEVELS.contains(&level) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{level}' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"
        )));
    }
    let include = o.get("includeExecutionData").and_then(Value::as_bool).unwrap_or(false);
    let destinations = match o.get("destinations") {
        None | Some(Value::Null) => None,
        Some(Value::Array(d)) => Some(d.clone()),
        Some(_) => return Err(ApiError::new("SerializationException", "'destinations' must be a list")),
    };
    let count = destinations.as_ref().map_or(0, Vec::len);
    if count > 1 || (level != "OFF" && count != 1) {
        return Err(ApiError::new(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    let mut out = json!({"level": level, "includeExecutionData": include});
    if let Some(d) = destinations {
        out["destinations"] = Value::Array(d);
    }
    Ok(Some(out))
}

/// The `tracingConfiguration` parameter, normalised, or None when absent.
pub fn tracing(p: &Params) -> Result<Option<Value>, ApiError> {
    let Some(v) = p.0.get("tracingConfiguration").filter(|v| !v.is_null()) else { return Ok(None) };
    let enabled = v.get("enabled").and_then(Value::as_bool).unwrap_or(false);
    Ok(Some(json!({"enabled": enabled})))
}

/// The logging configuration to show, from its stored text (AWS's default when none).
pub fn shown_logging(stored: Option<&str>) -> Value {
    stored
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_else(|| json!({"level": "OFF", "includeExecutionData": false}))
}

/// The tracing configuration to show, from its stored text (AWS's default when none).
pub fn shown_tracing(stored: Option<&str>) -> Value {
    stored.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_else(|| json!({"enabled": false}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn params(v: Value) -> Params {
        Params(v.as_object().cloned().unwrap_or_else(Map::new))
    }

    #[test]
    fn a_level_other_than_off_needs_exactly_one_destination() {
        let e = logging(&params(json!({"loggingConfiguration": {"level": "ALL"}}))).unwrap_err();
        assert_eq!(e.name, "InvalidLoggingConfiguration");
        let d = json!([{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:1:log-group:g:*"}}]);
        let ok = logging(&params(json!({"loggingConfiguration": {"level": "ERROR", "destinations": d}}))).unwrap();
        assert_eq!(ok.unwrap()["destinations"], d);
        let off = logging(&params(json!({"loggingConfiguration": {"level": "OFF", "destinations": []}}))).unwrap();
        assert_eq!(off, Some(json!({"level": "OFF", "includeExecutionData": false, "destinations": []})));
        assert!(logging(&params(json!({"loggingConfiguration": {"level": "LOUD"}}))).is_err());
        assert_eq!(logging(&params(json!({}))).unwrap(), None);
    }
}
