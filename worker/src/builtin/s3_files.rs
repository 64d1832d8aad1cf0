//! `files`: serves a Map's `ItemReader` (`arn:aws:states:::s3:getObject` and
//! `…:s3:listObjectsV2`) from a directory, so distributed Maps written for S3 run
//! against local files: bucket `B`, key `K` is the file `<root>/B/K`.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Handler, TaskContext, TaskError, TaskResult};

/// Serves S3 reads from the directory `root`.
#[derive(Debug, Clone)]
pub struct S3Files {
    /// Each bucket is a directory under it.
    pub root: PathBuf,
}

/// GetObject's and ListObjectsV2's parameters (others are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3Request {
    bucket: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
}

fn invalid(message: impl Into<String>) -> TaskError {
    TaskError::new("Stepline.InvalidInput", message)
}

/// `part` as a path under the root: relative, and never leaving it.
fn relative(part: &str) -> Result<&Path, TaskError> {
    let path = Path::new(part);
    if part.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(invalid(format!("'{part}' is not a plain bucket name or key")));
    }
    Ok(path)
}

impl S3Files {
    async fn get_object(&self, bucket: &Path, key: &str) -> TaskResult {
        let path = self.root.join(bucket).join(relative(key)?);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(json!({
                "Body": String::from_utf8_lossy(&bytes),
                "ContentLength": bytes.len(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(TaskError::new("S3.NoSuchKey", "The specified key does not exist."))
            }
            Err(e) => Err(TaskError::new("S3.S3Exception", format!("cannot read {}: {e}", path.display()))),
        }
    }

    async fn list_objects(&self, bucket: &Path, prefix: &str) -> TaskResult {
        let dir = self.root.join(bucket);
        let listed = tokio::task::spawn_blocking(move || list_files(&dir))
            .await
            .map_err(|e| TaskError::new("S3.S3Exception", e.to_string()))?;
        let mut files = listed.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TaskError::new("S3.NoSuchBucket", "The specified bucket does not exist"),
            _ => TaskError::new("S3.S3Exception", e.to_string()),
        })?;
        files.retain(|(key, _, _)| key.starts_with(prefix));
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let contents: Vec<Value> = files
            .into_iter()
            .map(|(key, size, modified)| {
                json!({"Key": key, "Size": size, "LastModified": modified, "StorageClass": "STANDARD"})
            })
            .collect();
        Ok(json!({"KeyCount": contents.len(), "Prefix": prefix, "Contents": contents}))
    }
}

/// Every file under `dir`: its key (path from `dir`, `/`-separated), size and
/// modification time (RFC 3339).
fn list_files(dir: &Path) -> std::io::Result<Vec<(String, u64, String)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(dir).map(Path::to_path_buf) else { continue };
            let key: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let modified = meta.modified().map(rfc3339).unwrap_or_default();
            out.push((key.join("/"), meta.len(), modified));
        }
    }
    Ok(out)
}

/// `t` as RFC 3339 UTC text with seconds, as S3 gives `LastModified`.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl Handler for S3Files {
    async fn handle(&self, task: TaskContext) -> TaskResult {
        let request: S3Request = task.input_as()?;
        let bucket = relative(&request.bucket)?;
        let action = if task.resource().is_empty() { task.queue() } else { task.resource() };
        if action.ends_with(":s3:getObject") {
            let key = request.key.as_deref().ok_or_else(|| invalid("getObject needs a Key"))?;
            self.get_object(bucket, key).await
        } else if action.ends_with(":s3:listObjectsV2") {
            self.list_objects(bucket, request.prefix.as_deref().unwrap_or("")).await
        } else {
            Err(invalid(format!("the files handler serves s3:getObject and s3:listObjectsV2, not '{action}'")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(resource: &str, input: Value) -> TaskContext {
        TaskContext::for_input(input).with_resource(resource)
    }

    #[tokio::test]
    async fn reads_and_lists_files_under_the_root() {
        let root = std::env::temp_dir().join(format!("stepline-files-{}", std::process::id()));
        std::fs::create_dir_all(root.join("data/in/deep")).unwrap();
        std::fs::write(root.join("data/in/a.csv"), "id\n1\n").unwrap();
        std::fs::write(root.join("data/in/deep/b.json"), "[1]").unwrap();
        std::fs::write(root.join("data/other.txt"), "x").unwrap();
        let files = S3Files { root: root.clone() };
        let get = "arn:aws:states:::s3:getObject";
        let got = files.handle(task(get, json!({"Bucket": "data", "Key": "in/a.csv"}))).await.unwrap();
        assert_eq!(got["Body"], "id\n1\n");
        let missing = files.handle(task(get, json!({"Bucket": "data", "Key": "nope"}))).await.unwrap_err();
        assert_eq!(missing.error, "S3.NoSuchKey");
        let escape = files.handle(task(get, json!({"Bucket": "data", "Key": "../data/in/a.csv"}))).await.unwrap_err();
        assert_eq!(escape.error, "Stepline.InvalidInput");
        let list = "arn:aws:states:::s3:listObjectsV2";
        let listed = files.handle(task(list, json!({"Bucket": "data", "Prefix": "in/"}))).await.unwrap();
        let keys: Vec<&str> = listed["Contents"].as_array().unwrap().iter().filter_map(|c| c["Key"].as_str()).collect();
        assert_eq!(keys, ["in/a.csv", "in/deep/b.json"]);
        assert_eq!(listed["Contents"][0]["Size"], 5);
        let no_bucket = files.handle(task(list, json!({"Bucket": "none"}))).await.unwrap_err();
        assert_eq!(no_bucket.error, "S3.NoSuchBucket");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn dates_are_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
