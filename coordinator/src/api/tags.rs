//! TagResource, UntagResource, ListTagsForResource, and tag validation for the
//! Create* actions. Taggable: state machines, activities and aliases.

use serde_json::{Value, json};

use super::{ApiError, ApiResult, Params};
use crate::serve::App;

/// AWS allows 50 tags per resource.
const MAX_TAGS: u64 = 50;

/// Reads a `[{"key", "value"}]` tag list field (absent means none).
pub fn parse_tags(p: &Params, field: &str) -> Result<Vec<(String, String)>, ApiError> {
    let items = match p.0.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::new("SerializationException", format!("'{field}' must be a list"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let key = item.get("key").and_then(Value::as_str);
        let value = item.get("value").and_then(Value::as_str).unwrap_or("");
        let Some(key) = key else {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value null at '{field}.member.key' failed to satisfy constraint: Member must not be null"
            )));
        };
        check_key(key, field)?;
        if value.chars().count() > 256 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{field}.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"
            )));
        }
        out.push((key.to_string(), value.to_string()));
    }
    if out.len() as u64 > MAX_TAGS {
        return Err(too_many());
    }
    Ok(out)
}

fn check_key(key: &str, field: &str) -> Result<(), ApiError> {
    let n = key.chars().count();
    if !(1..=128).contains(&n) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{key}' at '{field}' failed to satisfy constraint: Member must have length between 1 and 128"
        )));
    }
    Ok(())
}

fn too_many() -> ApiError {
    ApiError::new("TooManyTags", format!("Too many tags: a resource can have at most {MAX_TAGS}"))
}

/// Stores tags for a resource just created (nothing to do when there are none).
pub async fn store_tags(app: &App, arn: &str, tags: &[(String, String)]) -> Result<(), ApiError> {
    if !tags.is_empty() && app.store.tag(arn, tags).await? > MAX_TAGS {
        return Err(too_many());
    }
    Ok(())
}

/// Checks that a taggable resource exists.
async fn check_resource(app: &App, arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "states" {
        return Err(ApiError::invalid_arn(arn));
    }
    let exists = match (parts[5], parts.len()) {
        ("stateMachine", 7) => app.store.get_state_machine(arn).await?.is_some(),
        ("stateMachine", 8) => app.store.get_alias(arn).await?.is_some(),
        ("activity", 7) => app.store.get_activity(arn).await?.is_some(),
        _ => return Err(ApiError::invalid_arn(arn)),
    };
    if exists { Ok(()) } else { Err(ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))) }
}

/// TagResource.
pub async fn tag(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("resourceArn")?;
    if !p.0.contains_key("tags") {
        return Err(ApiError::missing("tags"));
    }
    let tags = parse_tags(p, "tags")?;
    check_resource(app, arn).await?;
    let existing = app.store.tags(arn).await?;
    let added = tags.iter().filter(|(k, _)| !existing.iter().any(|(e, _)| e == k)).count();
    if (existing.len() + added) as u64 > MAX_TAGS {
        return Err(too_many());
    }
    app.store.tag(arn, &tags).await?;
    Ok(json!({}))
}

/// UntagResource.
pub async fn untag(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("resourceArn")?;
    let keys: Vec<String> =
        match p.0.get("tagKeys") {
            None | Some(Value::Null) => return Err(ApiError::missing("tagKeys")),
            Some(Value::Array(items)) => items
                .iter()
                .map(|k| k.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::new("SerializationException", "'tagKeys' must be a list of strings"))?,
            Some(_) => return Err(ApiError::new("SerializationException", "'tagKeys' must be a list")),
        };
    for k in &keys {
        check_key(k, "tagKeys")?;
    }
    check_resource(app, arn).await?;
    app.store.untag(arn, &keys).await?;
    Ok(json!({}))
}

/// ListTagsForResource.
pub async fn list(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("resourceArn")?;
    check_resource(app, arn).await?;
    let mut tags = app.store.tags(arn).await?;
    tags.sort();
    let list: Vec<Value> = tags.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    Ok(json!({"tags": list}))
}
