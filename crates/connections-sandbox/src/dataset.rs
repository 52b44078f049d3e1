//! A deterministic, realistic set of connections, indexed so that serving a page costs
//! O(page) rather than O(dataset).
//!
//! A [`Dataset`] never changes: a mutation ([`Dataset::with_inserted`], [`Dataset::without`],
//! [`Dataset::churned`]) builds a new one, so a page being served keeps a consistent snapshot
//! while the sandbox swaps the next one in.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::load::DataError;

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

/// `2025-06-01T00:00:00Z`: the newest generated connection was made shortly before.
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

    fn id(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// A well-spread hash of two numbers (splitmix64), for ids, fault rolls and mutation seeds.
pub(crate) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A vehicle's mode, `attributes.vehicle.mode` and `filter[vehicle.mode]` in the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// A real vehicle.
    Live,
    /// A vehicle from Smartcar's simulator.
    Simulated,
}

impl Mode {
    /// What the API lists when a request has no `filter[vehicle.mode]` (the contract's
    /// `default: live`).
    pub const DEFAULT: Mode = Mode::Live;

    /// The contract's spelling: `live` or `simulated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Simulated => "simulated",
        }
    }

    /// Index into per-mode tables.
    fn slot(self) -> usize {
        usize::from(self == Mode::Simulated)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `live` nor `simulated`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMode;

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vehicle mode is `live` or `simulated`")
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    /// Exactly as the contract spells them (the API is case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Mode::Live),
            "simulated" => Ok(Mode::Simulated),
            _ => Err(UnknownMode),
        }
    }
}

/// One connection as the sandbox stores it: flat, so tests can compute what a listing must
/// return from the raw fields without going through any JSON model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionRecord {
    /// The connection's id.
    pub id: String,
    /// The user who connected the vehicle (`relationships.user.data.id`).
    pub user_id: String,
    /// The connected vehicle (`relationships.vehicle.data.id`).
    pub vehicle_id: String,
    /// Live or simulated.
    pub mode: Mode,
    /// Manufacturer, e.g. `TESLA`.
    pub make: String,
    /// Model, e.g. `Model 3`.
    pub model: String,
    /// Model year.
    pub year: i64,
    /// `BEV`, `PHEV` or `ICE`.
    pub powertrain_type: String,
    /// Permissions granted, e.g. `read_odometer`.
    pub permissions: Vec<String>,
    /// RFC 3339, UTC, whole seconds: the text the API sends, ordered like the instant.
    pub created_at: String,
    /// RFC 3339: when the connection last changed.
    pub updated_at: String,
    /// RFC 3339: when the application last used it, if ever.
    pub last_used_at: Option<String>,
}

impl ConnectionRecord {
    /// One random connection made at `created` by `user`. The order of draws is what the
    /// dataset's determinism (same seed, same ids) rests on.
    fn draw(rng: &mut Rng, created: i64, pick_user: impl FnOnce(&mut Rng) -> String) -> Self {
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
            Mode::Simulated
        } else {
            Mode::Live
        };
        let user_id = pick_user(rng);
        let vehicle_id = rng.id();
        let id = rng.id();
        let updated = created + i64::try_from(rng.below(86_400 * 30)).unwrap_or(0);
        let used = rng.below(3) > 0;
        let year = 2016 + i64::try_from(rng.below(10)).unwrap_or(0);
        ConnectionRecord {
            id,
            user_id,
            vehicle_id,
            mode,
            make: make.to_owned(),
            model: model.to_owned(),
            year,
            powertrain_type: powertrain.to_owned(),
            permissions,
            created_at: rfc3339(created),
            updated_at: rfc3339(updated),
            last_used_at: used.then(|| rfc3339(updated + 3600)),
        }
    }
}

/// The filters of a listing request, as the API reads them: `None` is a parameter left out.
///
/// A left-out `filter[vehicle.mode]` is not "any mode": the contract gives it the default
/// `live`, so `Filters::default()` selects the live vehicles' connections, like a request
/// without parameters. No request lists both modes at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filters<'a> {
    /// `filter[userId]`. Any string, the empty one included (it selects nothing).
    pub user_id: Option<&'a str>,
    /// `filter[vehicleId]`. Any string, the empty one included (it selects nothing).
    pub vehicle_id: Option<&'a str>,
    /// `filter[vehicle.mode]`; `None` means the contract's default, [`Mode::Live`].
    pub mode: Option<Mode>,
}

impl Filters<'_> {
    /// The mode a request with these filters lists: the one given, or the default.
    pub fn effective_mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::DEFAULT)
    }

    fn select(&self, c: &ConnectionRecord) -> bool {
        self.user_id.is_none_or(|u| u == c.user_id)
            && self.vehicle_id.is_none_or(|v| v == c.vehicle_id)
            && self.effective_mode() == c.mode
    }
}

/// What one [`Dataset::churned`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Churn {
    /// Ids of the new connections, newest first (they are now the top of the listing).
    pub inserted: Vec<String>,
    /// Ids of the connections taken out, in their former listing order.
    pub removed: Vec<String>,
}

/// The sandbox's connections, newest first (`createdAt` descending, as the API orders them).
pub struct Dataset {
    seed: u64,
    /// Mutations applied since [`Dataset::generate`]: each draws from its own seeded stream.
    generation: u64,
    /// Latest `createdAt` ever given out (seconds); new connections come after it.
    newest: i64,
    /// Every user ever drawn, in the order drawn: a deterministic order for `user_ids`.
    users: Vec<String>,
    connections: Vec<Arc<ConnectionRecord>>,
    all: Vec<u32>,
    by_mode: [Vec<u32>; 2],
    by_user: HashMap<String, Vec<u32>>,
    by_vehicle: HashMap<String, Vec<u32>>,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("seed", &self.seed)
            .field("generation", &self.generation)
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// `count` connections from `seed`: about four per user, a fifth of them simulated.
    pub fn generate(count: usize, seed: u64) -> Self {
        let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1);
        let users: Vec<String> = (0..count.div_ceil(4).max(1)).map(|_| rng.id()).collect();
        let mut created = NEWEST;
        let mut newest = None;
        let connections = (0..count)
            .map(|_| {
                created -= 60 + i64::try_from(rng.below(7200)).unwrap_or(0);
                newest.get_or_insert(created);
                Arc::new(ConnectionRecord::draw(&mut rng, created, |rng| {
                    users[rng.below(users.len())].clone()
                }))
            })
            .collect();
        Self::index(seed, 0, newest.unwrap_or(NEWEST), users, connections)
    }

    fn index(
        seed: u64,
        generation: u64,
        newest: i64,
        users: Vec<String>,
        connections: Vec<Arc<ConnectionRecord>>,
    ) -> Self {
        let mut dataset = Dataset {
            seed,
            generation,
            newest,
            users,
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
            dataset.by_mode[c.mode.slot()].push(i);
            dataset
                .by_user
                .entry(c.user_id.clone())
                .or_default()
                .push(i);
            dataset
                .by_vehicle
                .entry(c.vehicle_id.clone())
                .or_default()
                .push(i);
        }
        dataset
    }

    /// Every connection, newest first.
    pub fn connections(&self) -> &[Arc<ConnectionRecord>] {
        &self.connections
    }

    /// Positions in [`connections`](Self::connections) of what `filters` select, newest
    /// first: what the sandbox serves for them. A mode alone (given or the default) is one
    /// of the indexes, borrowed as is; a user or vehicle filter starts from that user's or
    /// vehicle's own short list. Either way no request scans the whole dataset, so a page
    /// costs O(page).
    ///
    /// This is the sandbox's own filter code: a test that wants to know whether the sandbox
    /// serves the right connections should work them out from [`connections`](Self::connections)
    /// itself, not from this.
    pub fn matching(&self, filters: Filters<'_>) -> Cow<'_, [u32]> {
        let start: &[u32] = match (filters.vehicle_id, filters.user_id) {
            (Some(v), _) => self.by_vehicle.get(v).map_or(&[], Vec::as_slice),
            (None, Some(u)) => self.by_user.get(u).map_or(&[], Vec::as_slice),
            // The mode index is exactly the selection.
            (None, None) => return Cow::Borrowed(&self.by_mode[filters.effective_mode().slot()]),
        };
        Cow::Owned(
            start
                .iter()
                .copied()
                .filter(|&i| filters.select(&self.connections[i as usize]))
                .collect(),
        )
    }

    /// Reads connections in the API's shape from JSON text: an array of connections, a page
    /// body (`{"data": [...], ...}`, only `data` read), or NDJSON (one connection per line).
    ///
    /// Every field the sandbox serves is required except `meta.lastUsedAt`; `type`, if
    /// given, must be `connection`; ids must be non-empty and connection ids distinct;
    /// dates are RFC 3339. Unknown fields are ignored. The connections are listed newest
    /// first by `createdAt` (equal ones in the text's order), as the API orders them, and
    /// are served exactly as written. A mistake is a [`DataError`] naming its line, column
    /// and byte offset.
    ///
    /// ```
    /// use connections_sandbox::Dataset;
    ///
    /// let line = |id: &str, user: &str, at: &str| format!(
    ///     r#"{{"id":"{id}","attributes":{{"permissions":["read_vin"],"vehicle":{{"make":"KIA","model":"EV6","year":2024,"powertrainType":"BEV","mode":"live"}}}},"relationships":{{"vehicle":{{"data":{{"id":"v-{id}"}}}},"user":{{"data":{{"id":"{user}"}}}}}},"meta":{{"createdAt":"{at}","updatedAt":"{at}"}}}}"#
    /// );
    /// let ndjson = [line("c1", "u1", "2025-01-01T00:00:00Z"), line("c2", "u1", "2025-02-01T00:00:00Z")];
    /// let dataset = Dataset::from_json(&ndjson.join("\n"))?;
    /// let ids: Vec<&str> = dataset.connections().iter().map(|c| c.id.as_str()).collect();
    /// assert_eq!(ids, ["c2", "c1"], "newest first");
    ///
    /// let bad = Dataset::from_json("[\n  {\"id\": 7}\n]").unwrap_err();
    /// assert_eq!((bad.line, bad.column), (2, 10), "where the 7 is");
    /// assert_eq!(
    ///     bad.to_string(),
    ///     "2:10: invalid type: integer `7`, expected a string (byte offset 11)"
    /// );
    /// # Ok::<(), connections_sandbox::DataError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Dataset, DataError> {
        crate::load::parse(text)
    }

    /// Reads a file with [`from_json`](Self::from_json). A file that cannot be read is its
    /// I/O error (with the path in the message); one that is not UTF-8 or not connections is
    /// an `InvalidData` error whose inner error is the [`DataError`] (path included).
    pub fn load(path: impl AsRef<Path>) -> std::io::Result<Dataset> {
        crate::load::load(path.as_ref())
    }

    /// Connections read from a file or text, newest first; `newest` is the latest
    /// `createdAt` in seconds, if any.
    pub(crate) fn from_records(
        connections: Vec<Arc<ConnectionRecord>>,
        newest: Option<i64>,
    ) -> Self {
        let mut users = Vec::new();
        let mut known = HashSet::new();
        for c in &connections {
            if known.insert(c.user_id.as_str()) {
                users.push(c.user_id.clone());
            }
        }
        Self::index(0, 0, newest.unwrap_or(NEWEST), users, connections)
    }

    /// The same connections, with mutations (inserts, churn) drawn from `seed`.
    pub(crate) fn reseeded(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Ids of users that have at least one connection, in a stable order.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.users
            .iter()
            .filter(|u| self.by_user.contains_key(*u))
            .map(String::as_str)
    }

    /// A copy with `n` new connections on top, made after every existing one; and their ids,
    /// newest first. What is drawn depends only on the seed and the mutations before.
    pub fn with_inserted(&self, n: usize) -> (Dataset, Vec<String>) {
        let (dataset, churn) = self.mutate(n, &HashSet::new());
        (dataset, churn.inserted)
    }

    /// A copy without the connections whose ids are given; and how many that removed.
    /// Unknown ids are ignored.
    pub fn without<I>(&self, ids: I) -> (Dataset, usize)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let ids: Vec<I::Item> = ids.into_iter().collect();
        let wanted: HashSet<&str> = ids.iter().map(AsRef::as_ref).collect();
        let gone: HashSet<u32> = self
            .all
            .iter()
            .copied()
            .filter(|&i| wanted.contains(self.connections[i as usize].id.as_str()))
            .collect();
        let (dataset, churn) = self.mutate(0, &gone);
        (dataset, churn.removed.len())
    }

    /// A copy where `n` existing connections, picked at random from the seed, are gone and
    /// `n` new ones are on top: data moving under a listing. With fewer than `n`
    /// connections, all of them go.
    pub fn churned(&self, n: usize) -> (Dataset, Churn) {
        let len = self.connections.len();
        let mut rng = self.rng(0x0de1);
        let gone: HashSet<u32> = if n >= len {
            self.all.iter().copied().collect()
        } else {
            // A partial Fisher-Yates shuffle: n distinct positions, uniformly.
            let mut positions = self.all.clone();
            for k in 0..n {
                let pick = k + rng.below(len - k);
                positions.swap(k, pick);
            }
            positions.truncate(n);
            positions.into_iter().collect()
        };
        self.mutate(n, &gone)
    }

    /// The random stream of the next mutation, distinct per `purpose`.
    fn rng(&self, purpose: u64) -> Rng {
        Rng(mix(self.seed ^ purpose, self.generation + 1) | 1)
    }

    /// Drops the positions in `gone`, then puts `insert` new connections on top.
    fn mutate(&self, insert: usize, gone: &HashSet<u32>) -> (Dataset, Churn) {
        let mut rng = self.rng(0x1e57);
        let mut users = self.users.clone();
        let mut created = self.newest;
        let mut fresh: Vec<Arc<ConnectionRecord>> = (0..insert)
            .map(|_| {
                created += 1 + i64::try_from(rng.below(600)).unwrap_or(0);
                Arc::new(ConnectionRecord::draw(&mut rng, created, |rng| {
                    // Mostly people who already have a vehicle, so user filters see moves too.
                    if users.is_empty() || rng.below(4) == 0 {
                        users.push(rng.id());
                        users.last().cloned().unwrap_or_default()
                    } else {
                        users[rng.below(users.len())].clone()
                    }
                }))
            })
            .collect();
        fresh.reverse();
        let inserted = fresh.iter().map(|c| c.id.clone()).collect();
        let mut removed = Vec::with_capacity(gone.len());
        let mut connections = fresh;
        connections.reserve(self.connections.len().saturating_sub(gone.len()));
        for (&i, c) in self.all.iter().zip(&self.connections) {
            if gone.contains(&i) {
                removed.push(c.id.clone());
            } else {
                connections.push(c.clone());
            }
        }
        let dataset = Self::index(self.seed, self.generation + 1, created, users, connections);
        (dataset, Churn { inserted, removed })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report

    use super::*;

    fn records(d: &Dataset) -> Vec<ConnectionRecord> {
        d.connections().iter().map(|c| (**c).clone()).collect()
    }

    #[test]
    fn generation_is_deterministic_and_ordered_newest_first() {
        let a = Dataset::generate(200, 7);
        let b = Dataset::generate(200, 7);
        assert_eq!(records(&a), records(&b));
        assert_ne!(records(&a), records(&Dataset::generate(200, 8)));
        let created: Vec<&str> = a
            .connections()
            .iter()
            .map(|c| c.created_at.as_str())
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] > w[1]),
            "createdAt strictly descending"
        );
        let ids: HashSet<_> = a.connections().iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), 200);
        let users: Vec<&str> = a.user_ids().collect();
        assert_eq!(users, b.user_ids().collect::<Vec<_>>(), "a stable order");
        assert!(
            users
                .iter()
                .all(|u| a.connections().iter().any(|c| c.user_id == *u))
        );
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
            // No mode given means live, as in the API.
            let wanted = mode.unwrap_or(Mode::Live);
            let brute: Vec<u32> = (0..300u32)
                .filter(|&i| {
                    let c = &d.connections()[i as usize];
                    c.user_id == user && c.mode == wanted
                })
                .collect();
            assert_eq!(*d.matching(f), brute);
        }
        let live = d
            .connections()
            .iter()
            .position(|c| c.mode == Mode::Live)
            .unwrap();
        let f = Filters {
            vehicle_id: Some(&d.connections()[live].vehicle_id),
            ..Filters::default()
        };
        assert_eq!(*d.matching(f), [live as u32]);
        let simulated = d
            .connections()
            .iter()
            .position(|c| c.mode == Mode::Simulated)
            .unwrap();
        let f = Filters {
            vehicle_id: Some(&d.connections()[simulated].vehicle_id),
            ..Filters::default()
        };
        assert!(d.matching(f).is_empty(), "a simulated vehicle is not live");
        let all_live: Vec<u32> = (0..300u32)
            .filter(|&i| d.connections()[i as usize].mode == Mode::Live)
            .collect();
        assert_eq!(*d.matching(Filters::default()), all_live);
        assert!(
            d.matching(Filters {
                user_id: Some("nobody"),
                ..Filters::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn a_mode_alone_borrows_its_index_instead_of_copying_it() {
        let d = Dataset::generate(500, 3);
        for f in [
            Filters::default(),
            Filters {
                mode: Some(Mode::Live),
                ..Filters::default()
            },
            Filters {
                mode: Some(Mode::Simulated),
                ..Filters::default()
            },
        ] {
            assert!(matches!(d.matching(f), Cow::Borrowed(_)), "{f:?}");
        }
    }

    #[test]
    fn mutations_are_deterministic_and_keep_the_order() {
        let d = Dataset::generate(50, 9);
        let (a, churn_a) = d.churned(4);
        let (b, churn_b) = d.churned(4);
        assert_eq!(churn_a, churn_b);
        assert_eq!(records(&a), records(&b));
        let (next, _) = a.churned(4);
        assert_ne!(records(&next), records(&a), "each mutation draws anew");
        assert_eq!(churn_a.inserted.len(), 4);
        assert_eq!(churn_a.removed.len(), 4);
        let created: Vec<&str> = a
            .connections()
            .iter()
            .map(|c| c.created_at.as_str())
            .collect();
        assert!(created.windows(2).all(|w| w[0] > w[1]));
        let ids: HashSet<&str> = a.connections().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), 50);

        let (empty, churn) = Dataset::generate(2, 1).churned(5);
        assert_eq!((churn.removed.len(), churn.inserted.len()), (2, 5));
        assert_eq!(empty.connections().len(), 5);
        let (none, removed) = empty.without(&churn.inserted);
        assert_eq!((removed, none.connections().len()), (5, 0));
        assert_eq!(none.user_ids().count(), 0);
        let (one, ids) = none.with_inserted(1);
        assert_eq!(one.connections()[0].id, ids[0]);
        assert!(one.connections()[0].created_at > empty.connections()[0].created_at);
    }

    #[test]
    fn modes_read_and_write_the_contract_spelling() {
        for mode in [Mode::Live, Mode::Simulated] {
            assert_eq!(mode.as_str().parse(), Ok(mode));
        }
        assert_eq!("Live".parse::<Mode>(), Err(UnknownMode));
        assert_eq!("".parse::<Mode>(), Err(UnknownMode));
    }
}
