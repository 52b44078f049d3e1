//! Lists every connection of an application, one line each, with the blocking client.
//!
//! ```sh
//! SMARTCAR_ACCESS_TOKEN=... cargo run -p connections-blocking --example list_blocking
//! SMARTCAR_BASE_URL=http://127.0.0.1:8080/v3 SMARTCAR_ACCESS_TOKEN=... cargo run -p connections-blocking --example list_blocking
//! ```
//!
//! `SMARTCAR_BASE_URL` defaults to production (`https://vehicle.api.smartcar.com/v3`).
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
    let token = std::env::var("SMARTCAR_ACCESS_TOKEN")
        .map_err(|_| "set SMARTCAR_ACCESS_TOKEN to an access token")?;
    let mut builder = Client::builder()
        .token(&token)
        .user_agent_suffix("connections-blocking-example");
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
