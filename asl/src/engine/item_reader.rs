//! A Map's `ItemReader`. AWS reads the items from S3 before the Map starts; Stepline
//! cannot reach S3, so the read goes out as a task on the queue named after the reader's
//! `Resource` (as any service integration does), with the evaluated `Parameters` or
//! `Arguments` as its input. The worker answers with the object's content (a string, or
//! `{"Body": "…"}` as S3's GetObject gives it) or with the items themselves (an array,
//! or a ListObjectsV2 response's `Contents`); `ReaderConfig` says how content becomes
//! items. The Map then starts as if the items had come from its input. No task events
//! are recorded for the read, as AWS records none; a failed read fails the Map with
//! `States.ItemReaderFailed`.

use serde_json::{Map, Value};

use super::eval::apply_io_path;
use super::states::{Outcome, Run};
use super::{FrameId, TaskCommand};
use crate::definition::{Dynamic, ItemReader, ItemSelector, QueryLanguage, ReaderConfig, ReaderInputType, StateKind};
use crate::failure::Failure;

/// The error a Map fails with when its items cannot be read.
const READ_FAILED: &str = "States.ItemReaderFailed";

impl Run<'_, '_> {
    /// Puts the read of a Map's items out for a worker; `input` is the Map's effective
    /// input (after InputPath).
    pub(super) fn read_items(&mut self, fid: FrameId, reader: &ItemReader, input: &Value) -> Result<Outcome, Failure> {
        let arguments = match &reader.arguments {
            Some(ItemSelector::JsonPath(t)) => self.with_env(fid, None, None, |env| t.evaluate(input, env))?,
            Some(ItemSelector::Jsonata(t)) => {
                let states = self.states_base(fid, None);
                self.with_env(fid, Some(states), None, |env| super::eval::jsonata(t, env, "Arguments"))?
            }
            None => Value::Object(Map::new()),
        };
        let command = TaskCommand {
            token: self.mint_token(fid),
            state_name: self.exec.frames[&fid].state.clone(),
            resource: reader.resource.clone(),
            input: arguments,
            attempt: 0,
            timeout_seconds: None,
            heartbeat_seconds: None,
        };
        Ok(self.await_task(fid, command, false))
    }

    /// Whether frame `fid` awaits a task because its Map is reading its items.
    pub(super) fn reads_items(&self, fid: FrameId) -> bool {
        matches!(self.state_of(fid).map(|s| &s.kind), Some(StateKind::Map(_)))
    }

    /// The worker read the items: the Map starts over them.
    pub(super) fn items_read(&mut self, fid: FrameId, output: Value) {
        let Some(state) = self.state_of(fid) else {
            return;
        };
        let StateKind::Map(spec) = &state.kind else {
            return;
        };
        let Some(reader) = &spec.item_reader else {
            return;
        };
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.task_token = None;
        }
        let raw = self.exec.frames.get(&fid).map(|f| f.input.clone()).unwrap_or(Value::Null);
        let limited = (|| {
            let input = match state.query_language {
                QueryLanguage::JsonPath => {
                    self.with_env(fid, None, None, |env| apply_io_path(&state.input_path, raw, env, "InputPath"))?
                }
                QueryLanguage::Jsonata => raw,
            };
            let max_items = self.max_items(fid, &reader.config, &input)?;
            Ok((input, max_items))
        })();
        let (input, max_items) = match limited {
            Ok(found) => found,
            Err(f) => {
                let outcome = self.state_error(fid, f);
                return self.settle(fid, state, outcome);
            }
        };
        let items = match decode_items(&reader.config, output, max_items) {
            Ok(items) => items,
            Err(cause) => return self.reader_failed(fid, cause),
        };
        let outcome = self.start_items(fid, state, spec, items, &input).unwrap_or_else(|f| self.state_error(fid, f));
        self.settle(fid, state, outcome);
    }

    /// The worker could not read the items.
    pub(super) fn item_read_failed(&mut self, fid: FrameId, error: &str, cause: &str) {
        let cause = if cause.is_empty() { error.to_string() } else { format!("{error}: {cause}") };
        self.reader_failed(fid, cause);
    }

    /// The Map fails as a Map (`MapStateFailed`, unless a retrier takes it up).
    fn reader_failed(&mut self, fid: FrameId, cause: String) {
        let failure = Failure::new(READ_FAILED, cause);
        if !self.will_retry(fid, &failure) {
            self.record_at(fid, "MapStateFailed", None);
        }
        self.fail_state(fid, failure);
    }

    fn max_items(&mut self, fid: FrameId, config: &ReaderConfig, input: &Value) -> Result<Option<usize>, Failure> {
        Ok(match &config.max_items {
            None | Some(Dynamic::Fixed(0)) => None,
            Some(d) => Some(self.dynamic_number(fid, d, input, "MaxItems")?.max(0) as usize).filter(|n| *n > 0),
        })
    }
}

/// The items in a reader's answer, at most `max_items` of them.
fn decode_items(config: &ReaderConfig, output: Value, max_items: Option<usize>) -> Result<Vec<Value>, String> {
    let mut items = match (config.input_type, output) {
        (_, Value::Array(items)) => items,
        (None, Value::Object(mut listing)) => match listing.remove("Contents") {
            Some(Value::Array(items)) => items,
            None => Vec::new(),
            Some(_) => return Err("The listing's Contents is not an array".to_string()),
        },
        (Some(input_type), content) => decode_content(input_type, config, &content_text(content)?)?,
        (None, other) => {
            return Err(format!(
                "The reader returned {}; without a ReaderConfig.InputType it must return the items as an array or a listing with Contents",
                type_word(&other)
            ));
        }
    };
    if let Some(n) = max_items {
        items.truncate(n);
    }
    Ok(items)
}

/// An object's content: the worker's string, or the `Body` of a GetObject response.
fn content_text(content: Value) -> Result<String, String> {
    match content {
        Value::String(s) => Ok(s),
        Value::Object(mut o) => match o.remove("Body") {
            Some(Value::String(s)) => Ok(s),
            _ => Err("The reader returned an object without a string Body".to_string()),
        },
        other => Err(format!("The reader returned {}, not the object's content", type_word(&other))),
    }
}

fn decode_content(input_type: ReaderInputType, config: &ReaderConfig, text: &str) -> Result<Vec<Value>, String> {
    match input_type {
        ReaderInputType::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(other) => Err(format!("The JSON content is {}, not an array of items", type_word(&other))),
            Err(e) => Err(format!("The content is not valid JSON: {e}")),
        },
        ReaderInputType::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("Line {} is not valid JSON: {e}", i + 1)))
            .collect(),
        ReaderInputType::Csv => decode_csv(config, text),
        ReaderInputType::Manifest | ReaderInputType::Parquet => Err(format!(
            "Stepline does not decode {input_type:?} content: have the worker return the items as an array"
        )),
    }
}

/// One object per CSV row, keyed by the header, every value a string (as AWS gives them).
fn decode_csv(config: &ReaderConfig, text: &str) -> Result<Vec<Value>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(config.csv_delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = reader.records();
    let headers: Vec<String> = match &config.csv_headers {
        Some(given) => given.clone(),
        None => match rows.next() {
            Some(Ok(first)) => first.iter().map(str::to_string).collect(),
            Some(Err(e)) => return Err(format!("The CSV header cannot be read: {e}")),
            None => return Ok(Vec::new()),
        },
    };
    let mut items = Vec::new();
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| format!("CSV row {} cannot be read: {e}", i + 1))?;
        if row.len() != headers.len() {
            return Err(format!("CSV row {} has {} fields; the header has {}", i + 1, row.len(), headers.len()));
        }
        let item: Map<String, Value> =
            headers.iter().cloned().zip(row.iter().map(|v| Value::String(v.to_string()))).collect();
        items.push(Value::Object(item));
    }
    Ok(items)
}

fn type_word(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(input_type: Option<ReaderInputType>) -> ReaderConfig {
        ReaderConfig { input_type, csv_headers: None, csv_delimiter: b',', max_items: None }
    }

    #[test]
    fn csv_rows_become_objects_of_strings_keyed_by_the_first_row() {
        let text = "id,name\n1,\"Smith, J\"\n2,Lee\n";
        let items = decode_items(&config(Some(ReaderInputType::Csv)), json!(text), None);
        assert_eq!(items, Ok(vec![json!({"id": "1", "name": "Smith, J"}), json!({"id": "2", "name": "Lee"})]));
    }

    #[test]
    fn given_headers_and_another_delimiter() {
        let mut c = config(Some(ReaderInputType::Csv));
        c.csv_headers = Some(vec!["a".into(), "b".into()]);
        c.csv_delimiter = b'|';
        let items = decode_items(&c, json!({"Body": "1|2\n3|4"}), Some(1));
        assert_eq!(items, Ok(vec![json!({"a": "1", "b": "2"})]), "MaxItems keeps the first");
    }

    #[test]
    fn a_ragged_csv_row_is_an_error() {
        let items = decode_items(&config(Some(ReaderInputType::Csv)), json!("a,b\n1\n"), None);
        assert_eq!(items, Err("CSV row 1 has 1 fields; the header has 2".to_string()));
    }

    #[test]
    fn json_and_json_lines() {
        let json_items = decode_items(&config(Some(ReaderInputType::Json)), json!("[1, {\"a\": 2}]"), None);
        assert_eq!(json_items, Ok(vec![json!(1), json!({"a": 2})]));
        let not_array = decode_items(&config(Some(ReaderInputType::Json)), json!("{\"a\": 1}"), None);
        assert_eq!(not_array, Err("The JSON content is an object, not an array of items".to_string()));
        let lines = decode_items(&config(Some(ReaderInputType::Jsonl)), json!("{\"a\":1}\n\n[2]\n"), None);
        assert_eq!(lines, Ok(vec![json!({"a": 1}), json!([2])]));
    }

    #[test]
    fn items_returned_directly_or_as_a_listing() {
        assert_eq!(decode_items(&config(None), json!([1, 2, 3]), Some(2)), Ok(vec![json!(1), json!(2)]));
        let listing = json!({"Contents": [{"Key": "a"}, {"Key": "b"}], "KeyCount": 2});
        assert_eq!(decode_items(&config(None), listing, None), Ok(vec![json!({"Key": "a"}), json!({"Key": "b"})]));
        assert!(decode_items(&config(None), json!("text"), None).is_err());
    }
}
