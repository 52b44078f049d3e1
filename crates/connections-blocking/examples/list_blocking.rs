//! Lists every connection of an application, one line each, with the blocking client.
//!
//! ```sh
//! SMARTCAR_CLIENT_ID=... SMARTCAR_CLIENT_SECRET=... cargo run -p connections-blocking --example list_blocking
//! SMARTCAR_ACCESS_TOKEN=... cargo run -p connections-blocking --example list_blocking
//! SMARTCAR_BASE_URL=http://127.0.0.1:8080/v3 SMARTCAR_TOKEN_URL=http://127.0.0.1:8080/oauth2/token \
//!   SMARTCAR_CLIENT_ID=... SMARTCAR_CLIENT_SECRET=... cargo run -p connections-blocking --example list_blocking
//! ```
//!
//! With a client id and secret, application tokens are fetched (and renewed) as needed;
//! otherwise `SMARTCAR_ACCESS_TOKEN` is used as it is. `SMARTCAR_BASE_URL` defaults to
//! production (`https://vehicle.api.smartcar.com/v3`), `SMARTCAR_TOKEN_URL` to
//! `https://iam.smartcar.com/oauth2/token`.
#![allow(clippy::print_stdout)] // printing the listing is what this example is for

use std::error::Error;
use std::process::ExitCode;

use connections_blocking::{Client, Connection, ListConnections, Owned};

fn main() -> ExitCode {
    match run() {
        Ok(count) => {
            eprintln!("{count} connections");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<usize, Box<dyn Error>> {
    let var = |name| std::env::var(name).ok();
    let mut builder = Client::builder().user_agent_suffix("connections-blocking-example");
    builder = match (var("SMARTCAR_CLIENT_ID"), var("SMARTCAR_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => {
            let builder = builder.client_credentials(&id, &secret);
            match var("SMARTCAR_TOKEN_URL") {
                Some(url) => builder.token_url(&url),
                None => builder,
            }
        }
        _ => {
            let token = var("SMARTCAR_ACCESS_TOKEN").ok_or(
                "set SMARTCAR_CLIENT_ID and SMARTCAR_CLIENT_SECRET, or SMARTCAR_ACCESS_TOKEN",
            )?;
            builder.token(&token)
        }
    };
    if let Ok(base) = std::env::var("SMARTCAR_BASE_URL") {
        builder = builder.base_url(&base);
    }
    let client = builder.build()?;
    let request = ListConnections::builder().page_size(100).build()?;
    let mut count = 0;
    for connection in client.connections(&request) {
        println!("{}", line(&connection?));
        count += 1;
    }
    Ok(count)
}

/// `id  user  vehicle  make model year  mode  permissions`
fn line(c: &Connection<Owned>) -> String {
    let relationships = c.relationships.as_ref();
    let related = |user: bool| {
        relationships
            .and_then(|r| {
                if user {
                    r.user.as_ref()
                } else {
                    r.vehicle.as_ref()
                }
            })
            .and_then(|r| r.data.as_ref()?.id.clone())
            .unwrap_or_else(|| "-".into())
    };
    let attributes = c.attributes.as_ref();
    let vehicle = attributes.and_then(|a| a.vehicle.as_ref());
    let text = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".into());
    format!(
        "{}  user={}  vehicle={}  {} {} {}  {}  {}",
        text(c.id.as_ref()),
        related(true),
        related(false),
        text(vehicle.and_then(|v| v.make.as_ref())),
        text(vehicle.and_then(|v| v.model.as_ref())),
        vehicle
            .and_then(|v| v.year)
            .map_or_else(|| "-".into(), |y| y.to_string()),
        vehicle
            .and_then(|v| v.mode.as_ref())
            .map_or_else(|| "-".into(), |m| m.as_str().to_owned()),
        attributes
            .and_then(|a| a.permissions.as_ref())
            .map(|p| p.join(","))
            .unwrap_or_default(),
    )
}
