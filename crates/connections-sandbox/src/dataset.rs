//! A deterministic, realistic set of connections, indexed so that serving a page costs
//! O(page) rather than O(dataset).

use std::collections::HashMap;

use connections_core::model::{
    ConnectionAttributes, ConnectionMeta, RelatedLink, Relationship, Relationships,
    ResourceIdentifier, SelfLink, Vehicle,
};
use connections_core::{Connection, Mode, Owned, Timestamp, VehicleMode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const VEHICLES: &[(&str, &str, &str)] = &[
    ("TESLA", "Model 3", "BEV"),
    ("TESLA", "Model Y", "BEV"),
    ("FORD", "F-150 Lightning", "BEV"),
    ("FORD", "Mustang Mach-E", "BEV"),
    ("TOYOTA", "RAV4 Prime", "PHEV"),
    ("TOYOTA", "Camry", "ICE"),
    ("BMW", "i4", "BEV"),
    ("HYUNDAI", "IONIQ 5", "BEV"),
    ("KIA", "EV6", "BEV"),
    ("VOLKSWAGEN", "ID.4", "BEV"),
    ("CHEVROLET", "Bolt EV", "BEV"),
    ("RIVIAN", "R1T", "BEV"),
    ("NISSAN", "Leaf", "BEV"),
    ("JEEP", "Wrangler 4xe", "PHEV"),
    ("HONDA", "Civic", "ICE"),
    ("MERCEDES-BENZ", "EQS", "BEV"),
];

const PERMISSIONS: &[&str] = &[
    "read_vehicle_info",
    "read_vin",
    "read_odometer",
    "read_location",
    "read_battery",
    "read_charge",
    "control_charge",
    "read_fuel",
    "read_tires",
    "read_engine_oil",
    "control_security",
    "read_security",
];

/// `2025-06-01T00:00:00Z`: the newest connection was made shortly before.
const NEWEST: i64 = 1_748_736_000;

/// xorshift64*: small, seeded, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn id(&mut self, prefix: &str) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{prefix}{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Filters of a listing, as the API reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filters<'a> {
    /// `filter[userId]`.
    pub user_id: Option<&'a str>,
    /// `filter[vehicleId]`.
    pub vehicle_id: Option<&'a str>,
    /// `filter[vehicle.mode]`.
    pub mode: Option<Mode>,
}

/// The sandbox's connections, newest first (`createdAt` descending, as the API orders them).
pub struct Dataset {
    connections: Vec<Connection<Owned>>,
    all: Vec<u32>,
    by_mode: [Vec<u32>; 2],
    by_user: HashMap<String, Vec<u32>>,
    by_vehicle: HashMap<String, Vec<u32>>,
}

impl Dataset {
    /// `count` connections from `seed`: about four per user, a fifth of them simulated.
    pub fn generate(count: usize, seed: u64) -> Self {
        let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1);
        let users: Vec<String> = (0..count.div_ceil(4).max(1)).map(|_| rng.id("")).collect();
        let mut created = NEWEST;
        let connections = (0..count)
            .map(|_| {
                created -= 60 + i64::try_from(rng.below(7200)).unwrap_or(0);
                let (make, model, powertrain) = VEHICLES[rng.below(VEHICLES.len())];
                let mut permissions: Vec<String> = Vec::new();
                let wanted = 2 + rng.below(5);
                while permissions.len() < wanted {
                    let p = PERMISSIONS[rng.below(PERMISSIONS.len())];
                    if !permissions.iter().any(|q| q == p) {
                        permissions.push(p.to_owned());
                    }
                }
                let mode = if rng.below(5) == 0 {
                    VehicleMode::Simulated
                } else {
                    VehicleMode::Live
                };
                let user = users[rng.below(users.len())].clone();
                let vehicle = rng.id("");
                let id = rng.id("");
                let updated = created + i64::try_from(rng.below(86_400 * 30)).unwrap_or(0);
                let used = rng.below(3) > 0;
                let relation = |kind: &str, id: &str| Relationship {
                    data: Some(ResourceIdentifier {
                        id: Some(id.to_owned()),
                        kind: Some(kind.to_owned()),
                    }),
                    links: Some(RelatedLink {
                        related: Some(format!("/{kind}s/{id}")),
                    }),
                };
                Connection {
                    kind: Some("connection".to_owned()),
                    attributes: Some(ConnectionAttributes {
                        permissions: Some(permissions),
                        vehicle: Some(Vehicle {
                            make: Some(make.to_owned()),
                            model: Some(model.to_owned()),
                            year: Some(2016 + i64::try_from(rng.below(10)).unwrap_or(0)),
                            powertrain_type: Some(powertrain.to_owned()),
                            mode: Some(mode),
                        }),
                    }),
                    relationships: Some(Relationships {
                        vehicle: Some(relation("vehicle", &vehicle)),
                        user: Some(relation("user", &user)),
                    }),
                    meta: Some(ConnectionMeta {
                        created_at: Some(Timestamp(rfc3339(created))),
                        updated_at: Some(Timestamp(rfc3339(updated))),
                        last_used_at: used.then(|| Timestamp(rfc3339(updated + 3600))),
                    }),
                    links: Some(SelfLink {
                        self_link: Some(format!("/connections/{id}")),
                    }),
                    id: Some(id),
                }
            })
            .collect();
        Self::index(connections)
    }

    fn index(connections: Vec<Connection<Owned>>) -> Self {
        let mut dataset = Dataset {
            all: (0..connections.len())
                .filter_map(|i| u32::try_from(i).ok())
                .collect(),
            connections,
            by_mode: [Vec::new(), Vec::new()],
            by_user: HashMap::new(),
            by_vehicle: HashMap::new(),
        };
        for &i in &dataset.all {
            let c = &dataset.connections[i as usize];
            let (user, vehicle, mode) = keys(c);
            dataset.by_mode[usize::from(mode == Some(Mode::Simulated))].push(i);
            dataset.by_user.entry(user.to_owned()).or_default().push(i);
            dataset
                .by_vehicle
                .entry(vehicle.to_owned())
                .or_default()
                .push(i);
        }
        dataset
    }

    /// Every connection, newest first.
    pub fn connections(&self) -> &[Connection<Owned>] {
        &self.connections
    }

    /// Positions of the connections `filters` select, newest first. A user or vehicle filter
    /// starts from that key's own short list, so no request scans the whole dataset.
    pub fn matching(&self, filters: Filters<'_>) -> Vec<u32> {
        let start: &[u32] = match (filters.vehicle_id, filters.user_id, filters.mode) {
            (Some(v), _, _) => self.by_vehicle.get(v).map_or(&[], Vec::as_slice),
            (None, Some(u), _) => self.by_user.get(u).map_or(&[], Vec::as_slice),
            (None, None, Some(mode)) => &self.by_mode[usize::from(mode == Mode::Simulated)],
            (None, None, None) => &self.all,
        };
        if filters.vehicle_id.is_none() && (filters.user_id.is_none() || filters.mode.is_none()) {
            // The start list is exactly the selection.
            return start.to_vec();
        }
        start
            .iter()
            .copied()
            .filter(|&i| {
                let (user, vehicle, mode) = keys(&self.connections[i as usize]);
                filters.user_id.is_none_or(|u| u == user)
                    && filters.vehicle_id.is_none_or(|v| v == vehicle)
                    && filters.mode.is_none_or(|m| Some(m) == mode)
            })
            .collect()
    }

    /// The ids `filters` select, newest first: what a complete listing must return.
    pub fn expected_ids(&self, filters: Filters<'_>) -> Vec<String> {
        self.matching(filters)
            .into_iter()
            .filter_map(|i| self.connections[i as usize].id.clone())
            .collect()
    }

    /// A few user ids, for demos and tests.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.by_user.keys().map(String::as_str)
    }
}

/// The user id, vehicle id and mode of a generated connection.
fn keys(c: &Connection<Owned>) -> (&str, &str, Option<Mode>) {
    fn id(r: Option<&Relationship<Owned>>) -> &str {
        r.and_then(|r| r.data.as_ref()?.id.as_deref()).unwrap_or("")
    }
    let rel = c.relationships.as_ref();
    let mode = c
        .attributes
        .as_ref()
        .and_then(|a| a.vehicle.as_ref()?.mode.as_ref())
        .and_then(|m| match m {
            VehicleMode::Live => Some(Mode::Live),
            VehicleMode::Simulated => Some(Mode::Simulated),
            _ => None,
        });
    (
        id(rel.and_then(|r| r.user.as_ref())),
        id(rel.and_then(|r| r.vehicle.as_ref())),
        mode,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_ordered_newest_first() {
        let a = Dataset::generate(200, 7);
        let b = Dataset::generate(200, 7);
        assert_eq!(a.connections(), b.connections());
        assert_ne!(a.connections(), Dataset::generate(200, 8).connections());
        let created: Vec<&str> = a
            .connections()
            .iter()
            .map(|c| {
                c.meta
                    .as_ref()
                    .unwrap()
                    .created_at
                    .as_ref()
                    .unwrap()
                    .as_str()
            })
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] > w[1]),
            "createdAt strictly descending"
        );
        let ids: std::collections::HashSet<_> = a.connections().iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), 200);
    }

    #[test]
    fn filters_select_exactly_the_matching_connections() {
        let d = Dataset::generate(300, 1);
        let simulated = d.matching(Filters {
            mode: Some(Mode::Simulated),
            ..Filters::default()
        });
        assert!(!simulated.is_empty() && simulated.len() < 150);
        let user = d.user_ids().next().unwrap().to_owned();
        for mode in [None, Some(Mode::Live), Some(Mode::Simulated)] {
            let f = Filters {
                user_id: Some(&user),
                mode,
                ..Filters::default()
            };
            let brute: Vec<u32> = (0..300u32)
                .filter(|&i| {
                    let (u, _, m) = keys(&d.connections()[i as usize]);
                    u == user && mode.is_none_or(|mode| Some(mode) == m)
                })
                .collect();
            assert_eq!(d.matching(f), brute);
        }
        let (_, vehicle, _) = keys(&d.connections()[5]);
        let f = Filters {
            vehicle_id: Some(vehicle),
            ..Filters::default()
        };
        assert_eq!(d.matching(f), vec![5]);
        assert!(
            d.matching(Filters {
                user_id: Some("nobody"),
                ..Filters::default()
            })
            .is_empty()
        );
    }
}
