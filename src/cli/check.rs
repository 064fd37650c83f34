//! `clipwatch check [--offline]`: validate the configuration and, online,
//! whether the API accepts the key.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::EXIT_CONFIG;
use crate::api::{ApiClient, ApiError, Budget, KeyCheck};
use crate::config::Config;
use crate::output::space;

pub async fn run(config: &Config, offline: bool) -> u8 {
    println!("configuration OK: {}", config.path.display());
    for warning in &config.warnings {
        println!("  warning: {warning}");
    }
    println!(
        "  {} preset(s), {} feed(s), drop folder: {}",
        config.presets.len(),
        config.feeds.len(),
        config
            .drop
            .as_ref()
            .map_or("none".to_string(), |d| d.dir.display().to_string())
    );
    println!(
        "  state: {}, output: {}",
        config.state.dir.display(),
        config.output.dir.display()
    );
    if !config.notify.sinks.is_empty() {
        let sinks: Vec<String> = config
            .notify
            .sinks
            .iter()
            .map(|s| format!("{} ({} {})", s.name, s.kind.name(), s.shown))
            .collect();
        println!("  notifications: {}", sinks.join(", "));
    }
    match &config.api.api_key_source {
        Some(source) => println!("  API key: from {source}"),
        None => println!("  API key: none (nothing will be submitted)"),
    }
    // Before anything is paid for, the clips must have somewhere to go.
    match space::check_offline(&config.output.dir, config.output.min_free_space) {
        Ok(note) => println!("  output: {note}"),
        Err(problem) => {
            println!("output: {problem}");
            return EXIT_CONFIG;
        }
    }
    if offline {
        return 0;
    }
    let Some(key) = config.api.api_key.clone() else {
        println!("API key: missing");
        return EXIT_CONFIG;
    };
    // One probe, no waiting on a rejected key.
    let budget = Budget::new(
        config.api.requests_per_minute,
        config.api.rate_window,
        Duration::from_secs(3600),
    );
    let client = match ApiClient::new(
        &config.api.base_url,
        key,
        config.api.timeout,
        budget,
        CancellationToken::new(),
    ) {
        Ok(client) => client,
        Err(err) => {
            println!("API: {err}");
            return 1;
        }
    };
    match client.check_key().await {
        Ok(KeyCheck::Accepted) => {
            println!("API key: accepted by {}", config.api.base_url);
            0
        }
        Ok(KeyCheck::NotTheApi { url, detail }) => {
            println!(
                "API: {url} is not the WayinVideo API ({detail}); the key was not checked. \
                 Check api.base_url: it ends in /open/v2 or /api/v2, e.g. {}",
                crate::config::DEFAULT_API_BASE_URL
            );
            EXIT_CONFIG
        }
        Err(err @ ApiError::Auth { .. }) => {
            println!("API key: rejected ({err})");
            EXIT_CONFIG
        }
        Err(err) => {
            println!(
                "API: could not check the key at {}: {err} (check api.base_url and the network)",
                config.api.base_url
            );
            1
        }
    }
}
