//! The Map state's fields: its item processor, items, selector, batching, limits,
//! label and reader.

use serde_json::{Map, Value};

use super::Parser;
use crate::definition::{ItemBatcher, ItemSelector, MapSpec, QueryLanguage, StateKind};

impl Parser {
    pub(super) fn map(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Option<StateKind> {
        let (key, proc) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(p)) => ("Iterator", p),
            _ => {
                self.err("A Map state must have exactly one of ItemProcessor and Iterator", loc);
                return None;
            }
        };
        let distributed = proc
            .get("ProcessorConfig")
            .and_then(|c| c.get("Mode"))
            .and_then(Value::as_str)
            .is_some_and(|m| m == "DISTRIBUTED");
        let express_children = proc
            .get("ProcessorConfig")
            .and_then(|c| c.get("ExecutionType"))
            .and_then(Value::as_str)
            .is_some_and(|t| t == "EXPRESS");
        let processor = self.sub_machine(proc, &format!("{loc}/{key}"), ql);
        let item_selector = match (obj.get("ItemSelector"), obj.get("Parameters")) {
            (Some(v), _) => match ql {
                QueryLanguage::JsonPath => self.payload(obj, "ItemSelector", loc).map(ItemSelector::JsonPath),
                QueryLanguage::Jsonata => {
                    self.jsonata_template(v, &format!("{loc}/ItemSelector")).map(ItemSelector::Jsonata)
                }
            },
            (None, Some(_)) => self.payload(obj, "Parameters", loc).map(ItemSelector::JsonPath),
            (None, None) => None,
        };
        let item_batcher = obj.get("ItemBatcher").and_then(Value::as_object).map(|b| ItemBatcher {
            max_items_per_batch: self.dynamic_int(b, "MaxItemsPerBatch", &format!("{loc}/ItemBatcher"), ql),
            batch_input: b.get("BatchInput").cloned(),
        });
        let label = obj.get("Label").and_then(Value::as_str).map(str::to_string);
        let item_reader = obj.get("ItemReader").and_then(|r| self.item_reader(r, loc, ql));
        if let Some(l) = &label
            && (l.chars().count() > 40 || l.chars().any(|c| " <>{}[]?*\"#%\\^|~`$&,;:/".contains(c) || c.is_control()))
        {
            self.err(
                "Label contains characters that are not allowed or is longer than 40 characters",
                format!("{loc}/Label"),
            );
        }
        Some(StateKind::Map(Box::new(MapSpec {
            processor,
            distributed,
            express_children,
            items_path: self.path_field(obj, "ItemsPath", loc),
            items: self.field_template(obj, "Items", loc),
            item_selector,
            max_concurrency: self.dynamic_int(obj, "MaxConcurrency", loc, ql),
            tolerated_failure_count: self.dynamic_int(obj, "ToleratedFailureCount", loc, ql),
            tolerated_failure_percentage: self.dynamic_number(
                obj,
                "ToleratedFailurePercentage",
                loc,
                ql,
                "a number",
                serde_json::Number::as_f64,
            ),
            item_batcher,
            label,
            item_reader,
        })))
    }
}
