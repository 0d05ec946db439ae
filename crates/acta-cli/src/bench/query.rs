//! `acta bench query`: a fixed set of searches, each run N times after one warm-up run, timed end to end
//! through HTTP (request sent to answer fully read).
//!
//! The set: free text of one token and of two (`user-apikey`, a phrase of the raw line), field exact, a
//! combination with negation, a phrase in a field, a plain negation (searched and counted), a time-range count,
//! the 24 h histogram by action (top 5), and a needle by target name. They run right after the load, on the
//! index as ingest left it (no forced merge). The needle is the one
//! event `acta bench generate` plants (`NEEDLE_TARGET`); on other data it finds nothing, which the
//! `result` column shows. An endpoint that answers 404 (an older server without the histogram) is reported as
//! not available rather than failed.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use super::{Latency, Memory, ServerProbe, print_memory, server_memory};
use crate::client::{Client, Connection, api_error_text};

#[derive(clap::Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) runs: RunArgs,
    #[command(flatten)]
    probe: ServerProbe,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// Timed runs of each query (after one warm-up run).
    #[arg(long, default_value_t = 50)]
    pub(crate) runs: usize,
    /// Events per search page, as the console asks.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
}

#[derive(Clone, Copy)]
enum Endpoint {
    Search,
    Count,
    Histogram,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Search => "/v1/events",
            Endpoint::Count => "/v1/events/count",
            Endpoint::Histogram => "/v1/events/histogram",
        }
    }
}

struct QuerySpec {
    name: &'static str,
    endpoint: Endpoint,
    q: &'static str,
    /// Parameters besides `q` (and `limit` for searches).
    params: &'static [(&'static str, &'static str)],
}

/// The generator's needle (`generate::NEEDLE_TARGET`; a unit test keeps the two equal).
const NEEDLE_QUERY: &str = "target.name:==acta-bench-needle-7f3a9c";

const QUERIES: &[QuerySpec] = &[
    QuerySpec { name: "free_text", endpoint: Endpoint::Search, q: "delete", params: &[] },
    QuerySpec { name: "free_text_two_tokens", endpoint: Endpoint::Search, q: "user-apikey", params: &[] },
    QuerySpec { name: "field_exact", endpoint: Endpoint::Search, q: "action:==kms.secrets.delete", params: &[] },
    QuerySpec {
        name: "combined_negation",
        endpoint: Endpoint::Search,
        q: "(action user-apikey) -login failure",
        params: &[],
    },
    QuerySpec {
        name: "phrase_in_field",
        endpoint: Endpoint::Search,
        q: "initiator.host.agent:\"IBM Cloud CLI\"",
        params: &[],
    },
    QuerySpec { name: "negation", endpoint: Endpoint::Search, q: "-outcome:success", params: &[] },
    QuerySpec { name: "negation_count", endpoint: Endpoint::Count, q: "-outcome:success", params: &[] },
    QuerySpec { name: "time_range_count_24h", endpoint: Endpoint::Count, q: "", params: &[("from", "24h")] },
    QuerySpec {
        name: "histogram_24h_by_action_top5",
        endpoint: Endpoint::Histogram,
        q: "",
        params: &[("from", "24h"), ("by", "action"), ("top", "5")],
    },
    QuerySpec { name: "needle_target_name", endpoint: Endpoint::Search, q: NEEDLE_QUERY, params: &[] },
];

/// Timings of one query.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueryResult {
    pub(crate) name: &'static str,
    pub(crate) endpoint: &'static str,
    pub(crate) q: &'static str,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) available: bool,
    pub(crate) latency: Option<Latency>,
    /// Events returned (search), the count (count), or the events in all buckets (histogram), at the last run.
    pub(crate) result: Option<u64>,
    pub(crate) note: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueryReport {
    pub(crate) runs: usize,
    pub(crate) queries: Vec<QueryResult>,
    pub(crate) server_memory: Option<Memory>,
}

pub(crate) async fn command(args: QueryArgs, connection: &Connection) -> anyhow::Result<ExitCode> {
    let client = connection.client()?;
    let mut report = run(&client, &args.runs).await?;
    report.server_memory = server_memory(&client, args.probe.pid).await;
    if args.probe.data.is_some() {
        eprintln!("note: --data is used by `bench ingest` and `bench all`; `bench query` reports no storage");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    let failed = report.queries.iter().any(|query| query.available && query.latency.is_none());
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

pub(crate) async fn run(client: &Client, args: &RunArgs) -> anyhow::Result<QueryReport> {
    let mut queries = Vec::new();
    for spec in QUERIES {
        queries.push(run_one(client, spec, args).await);
    }
    Ok(QueryReport { runs: args.runs, queries, server_memory: None })
}

async fn run_one(client: &Client, spec: &QuerySpec, args: &RunArgs) -> QueryResult {
    let mut params: Vec<(String, String)> = vec![("q".into(), spec.q.into())];
    params.extend(spec.params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if matches!(spec.endpoint, Endpoint::Search) {
        params.push(("limit".into(), args.limit.clamp(1, 1000).to_string()));
    }
    let mut result = QueryResult {
        name: spec.name,
        endpoint: spec.endpoint.path(),
        q: spec.q,
        params: params.clone(),
        available: true,
        latency: None,
        result: None,
        note: String::new(),
    };
    let mut samples = Vec::with_capacity(args.runs);
    // Run 0 warms caches (and finds out whether the endpoint exists); it is not counted.
    for run in 0..=args.runs {
        match once(client, spec.endpoint, &params).await {
            Ok((took, answer)) => {
                if run > 0 {
                    samples.push(took);
                }
                result.result = summarize(spec.endpoint, &answer);
            }
            Err(Failure::NotFound) => {
                result.available = false;
                result.note = format!("not available: GET {} answered 404", spec.endpoint.path());
                return result;
            }
            Err(Failure::Other(error)) => {
                result.note = format!("failed: {error:#}");
                return result;
            }
        }
    }
    result.latency = Some(Latency::of(samples));
    result
}

enum Failure {
    NotFound,
    Other(anyhow::Error),
}

async fn once(client: &Client, endpoint: Endpoint, params: &[(String, String)]) -> Result<(Duration, Value), Failure> {
    let started = Instant::now();
    let response = client
        .get(endpoint.path())
        .query(params)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .with_context(|| format!("cannot reach {}", client.url()))
        .map_err(Failure::Other)?;
    let status = response.status();
    let bytes = response.bytes().await.context("reading the answer").map_err(Failure::Other)?;
    let took = started.elapsed();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Failure::NotFound);
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(Failure::Other(anyhow::anyhow!("{}", api_error_text(status, &answer))));
    }
    Ok((took, answer))
}

fn summarize(endpoint: Endpoint, answer: &Value) -> Option<u64> {
    match endpoint {
        Endpoint::Search => answer["events"].as_array().map(|events| events.len() as u64),
        Endpoint::Count => answer["count"].as_u64(),
        Endpoint::Histogram => {
            answer["buckets"].as_array().map(|buckets| buckets.iter().filter_map(|b| b["count"].as_u64()).sum())
        }
    }
}

pub(crate) fn print(report: &QueryReport) {
    println!("queries: {} timed runs each after one warm-up, end to end through HTTP", report.runs);
    println!("  {:<30} {:>9} {:>9} {:>9} {:>9} {:>9}  query", "name", "p50 ms", "p90 ms", "p99 ms", "max ms", "result");
    for query in &report.queries {
        let shown_query = if query.q.is_empty() { "(everything)".to_string() } else { query.q.to_string() };
        let extra: Vec<String> =
            query.params.iter().filter(|(k, _)| k != "q" && k != "limit").map(|(k, v)| format!("{k}={v}")).collect();
        let described = if extra.is_empty() { shown_query } else { format!("{shown_query} {}", extra.join(" ")) };
        match &query.latency {
            Some(l) => println!(
                "  {:<30} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9}  {described}",
                query.name,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms,
                query.result.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            ),
            None => println!("  {:<30} {}", query.name, query.note),
        }
    }
    print_memory(report.server_memory.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::generate;

    #[test]
    fn the_needle_query_names_the_generated_needle() {
        assert_eq!(NEEDLE_QUERY, format!("target.name:=={}", generate::NEEDLE_TARGET));
        for spec in QUERIES {
            assert!(acta_query::parse(spec.q).is_ok(), "{} parses", spec.name);
        }
    }
}
