//! Lists every connection of an application, one line each.
//!
//! ```sh
//! SMARTCAR_ACCESS_TOKEN=... cargo run -p connections-hyper --example list_hyper
//! SMARTCAR_BASE_URL=http://127.0.0.1:8080/v3 SMARTCAR_ACCESS_TOKEN=... cargo run -p connections-hyper --example list_hyper
//! ```
//!
//! `SMARTCAR_BASE_URL` defaults to the production API; optional filters: `SMARTCAR_USER_ID`,
//! `SMARTCAR_VEHICLE_ID`, `SMARTCAR_MODE` (`live`, `simulated`).
#![allow(clippy::print_stdout)]

use std::env;
use std::error::Error;

use connections_hyper::{Client, Connection, ListConnections, Mode, Owned};
use futures_util::TryStreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let token = env::var("SMARTCAR_ACCESS_TOKEN")
        .map_err(|_| "set SMARTCAR_ACCESS_TOKEN to an application access token")?;
    let mut client = Client::builder()
        .token(&token)
        .user_agent_suffix("connections-hyper-example")
        .page_concurrency(4);
    if let Ok(base) = env::var("SMARTCAR_BASE_URL") {
        client = client.base_url(&base);
    }
    let client = client.build()?;

    let (user, vehicle) = (
        env::var("SMARTCAR_USER_ID"),
        env::var("SMARTCAR_VEHICLE_ID"),
    );
    let mut request = ListConnections::builder().page_size(100);
    if let Ok(user) = &user {
        request = request.user_id(user);
    }
    if let Ok(vehicle) = &vehicle {
        request = request.vehicle_id(vehicle);
    }
    if let Ok(mode) = env::var("SMARTCAR_MODE") {
        request = request.mode(mode.parse::<Mode>()?);
    }
    let request = request.build()?;

    let mut connections = std::pin::pin!(client.connections(&request));
    let mut count = 0_usize;
    while let Some(connection) = connections.try_next().await? {
        print_row(&connection);
        count += 1;
    }
    eprintln!("{count} connections");
    Ok(())
}

fn print_row(c: &Connection<Owned>) {
    let attributes = c.attributes.as_ref();
    let vehicle = attributes.and_then(|a| a.vehicle.as_ref());
    let related = |r: Option<&connections_hyper::connections_core::model::Relationship<Owned>>| {
        r.and_then(|r| r.data.as_ref()?.id.clone())
            .unwrap_or_else(|| "-".into())
    };
    let relationships = c.relationships.as_ref();
    println!(
        "{}  user {}  vehicle {}  {} {} {}  [{}]",
        c.id.as_deref().unwrap_or("-"),
        related(relationships.and_then(|r| r.user.as_ref())),
        related(relationships.and_then(|r| r.vehicle.as_ref())),
        vehicle.and_then(|v| v.make.as_deref()).unwrap_or("-"),
        vehicle.and_then(|v| v.model.as_deref()).unwrap_or("-"),
        vehicle
            .and_then(|v| v.year)
            .map_or("-".into(), |y| y.to_string()),
        attributes
            .and_then(|a| a.permissions.as_ref())
            .map(|p| p.join(","))
            .unwrap_or_default(),
    );
}
