//! Logs and traces: structured logs on stderr (text or JSON), and OpenTelemetry traces
//! exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The tracer provider, kept so that buffered spans can be flushed at shutdown.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Builds the OTLP exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
fn otlp_provider() -> Option<SdkTracerProvider> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|e| !e.is_empty())?;
    let exporter =
        match opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint.clone()).build() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("warning: OTLP tracing disabled, cannot build the exporter for {endpoint}: {e}");
                return None;
            }
        };
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "stepline".to_string());
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service).build();
    Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// Installs the global subscriber: an env-filtered (`RUST_LOG`, default `info`) log layer
/// in `json` or text form, plus the OpenTelemetry layer when OTLP is configured.
/// Calling it again is harmless (the first subscriber stays).
pub fn init(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    let otel = otlp_provider().map(|provider| {
        let tracer = provider.tracer("stepline");
        let _ = PROVIDER.set(provider);
        tracing_opentelemetry::layer().with_tracer(tracer)
    });
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init();
}

/// Flushes and stops the OTLP exporter, if any. It blocks, so it runs off the async
/// runtime's worker threads.
pub async fn shutdown() {
    if let Some(provider) = PROVIDER.get().cloned() {
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

use tracing_subscriber::Layer as _;
