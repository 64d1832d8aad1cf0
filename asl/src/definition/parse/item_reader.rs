//! `ItemReader` and its `ReaderConfig`.

use serde_json::Value;

use super::Parser;
use crate::definition::{ItemReader, ItemSelector, QueryLanguage, ReaderConfig, ReaderInputType};

impl Parser {
    /// The Map's `ItemReader` (at `loc`/ItemReader).
    pub(super) fn item_reader(&mut self, v: &Value, loc: &str, ql: QueryLanguage) -> Option<ItemReader> {
        let loc = format!("{loc}/ItemReader");
        let Some(obj) = v.as_object() else {
            self.err("The field 'ItemReader' must be an object", loc);
            return None;
        };
        let Some(resource) = obj.get("Resource").and_then(Value::as_str) else {
            self.err("The field 'Resource' is required and must be a string", format!("{loc}/Resource"));
            return None;
        };
        let arguments = match ql {
            QueryLanguage::JsonPath => self.payload(obj, "Parameters", &loc).map(ItemSelector::JsonPath),
            QueryLanguage::Jsonata => self.field_template(obj, "Arguments", &loc).map(ItemSelector::Jsonata),
        };
        let config = match obj.get("ReaderConfig") {
            None => None,
            Some(Value::Object(c)) => Some(c),
            Some(_) => {
                self.err("The field 'ReaderConfig' must be an object", format!("{loc}/ReaderConfig"));
                None
            }
        };
        let config_loc = format!("{loc}/ReaderConfig");
        let mut reader = ReaderConfig { input_type: None, csv_headers: None, csv_delimiter: b',', max_items: None };
        if let Some(c) = config {
            reader.input_type = match c.get("InputType").map(|t| t.as_str()) {
                None => None,
                Some(Some("CSV")) => Some(ReaderInputType::Csv),
                Some(Some("JSON")) => Some(ReaderInputType::Json),
                Some(Some("JSONL")) => Some(ReaderInputType::Jsonl),
                Some(Some("MANIFEST")) => Some(ReaderInputType::Manifest),
                Some(Some("PARQUET")) => Some(ReaderInputType::Parquet),
                Some(_) => {
                    self.err(
                        "The field 'InputType' must be one of CSV, JSON, JSONL, MANIFEST, PARQUET",
                        format!("{config_loc}/InputType"),
                    );
                    None
                }
            };
            reader.csv_headers = self.csv_headers(c, &config_loc);
            reader.csv_delimiter = match c.get("CSVDelimiter").map(|d| d.as_str()) {
                None | Some(Some("COMMA")) => b',',
                Some(Some("PIPE")) => b'|',
                Some(Some("SEMICOLON")) => b';',
                Some(Some("SPACE")) => b' ',
                Some(Some("TAB")) => b'\t',
                Some(_) => {
                    self.err(
                        "The field 'CSVDelimiter' must be one of COMMA, PIPE, SEMICOLON, SPACE, TAB",
                        format!("{config_loc}/CSVDelimiter"),
                    );
                    b','
                }
            };
            reader.max_items = self.dynamic_int(c, "MaxItems", &config_loc, ql);
        }
        Some(ItemReader { resource: resource.to_string(), arguments, config: reader })
    }

    /// `CSVHeaders` when `CSVHeaderLocation` is `GIVEN`; None for `FIRST_ROW` (the default).
    fn csv_headers(&mut self, c: &serde_json::Map<String, Value>, loc: &str) -> Option<Vec<String>> {
        match c.get("CSVHeaderLocation").map(|l| l.as_str()) {
            None | Some(Some("FIRST_ROW")) => None,
            Some(Some("GIVEN")) => {
                let headers: Option<Vec<String>> = c
                    .get("CSVHeaders")
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().map(|h| h.as_str().map(str::to_string)).collect());
                if headers.as_ref().is_none_or(Vec::is_empty) {
                    self.err(
                        "CSVHeaders must be a non-empty array of strings when CSVHeaderLocation is GIVEN",
                        format!("{loc}/CSVHeaders"),
                    );
                }
                headers
            }
            Some(_) => {
                self.err(
                    "The field 'CSVHeaderLocation' must be FIRST_ROW or GIVEN",
                    format!("{loc}/CSVHeaderLocation"),
                );
                None
            }
        }
    }
}
