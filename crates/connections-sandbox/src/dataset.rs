//! A deterministic, realistic set of connections, indexed so that serving a page costs
//! O(page · log n) rather than O(dataset), and so does changing it: churn on a million
//! connections costs what it costs on ten thousand (`sandbox_pages` in BENCHMARKS.md).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::load::DataError;
use crate::ranked::{MAX_SEQ, Ranked};

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
///
/// A connection read from a data file is served as the file wrote it, and its record holds
/// what the file gives, where it fits: a field left out (or a `year` beyond `i64`) is empty
/// here (`""`, `0`, no permissions, `None`), and a left-out `mode` is [`Mode::Live`], which
/// is how the sandbox lists it.
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
    /// `filter[userId]`. Any string; the empty one selects only connections whose user id is
    /// the empty string (none that the sandbox generates).
    pub user_id: Option<&'a str>,
    /// `filter[vehicleId]`. Any string, as for `user_id`.
    pub vehicle_id: Option<&'a str>,
    /// `filter[vehicle.mode]`; `None` means the contract's default, [`Mode::Live`].
    pub mode: Option<Mode>,
}

impl Filters<'_> {
    /// The mode a request with these filters lists: the one given, or the default.
    pub fn effective_mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::DEFAULT)
    }
}

/// What one [`Dataset::churn`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Churn {
    /// Ids of the new connections, newest first (they are now the top of the listing).
    pub inserted: Vec<String>,
    /// Ids of the connections taken out, in their former listing order.
    pub removed: Vec<String>,
}

/// A connection read from a data file, before it is filed in a [`Dataset`].
pub(crate) struct Loaded {
    /// What the file says, where it fits the record's types (see [`ConnectionRecord`]).
    pub(crate) record: ConnectionRecord,
    /// The file's text for it, served as given.
    pub(crate) json: Box<RawValue>,
    /// Whether the file gives `relationships.user.data.id`: a connection without one is
    /// selected by no user filter, not even the empty string.
    pub(crate) has_user: bool,
    /// Whether the file gives `relationships.vehicle.data.id`, likewise.
    pub(crate) has_vehicle: bool,
}

/// One connection as the sandbox keeps it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) record: Arc<ConnectionRecord>,
    /// The connection's JSON exactly as a data file gave it, which is what is served for it,
    /// so it comes back with exactly its fields and values (unknown ones, escapes and numbers
    /// as written included). `None` for a generated connection, served from its record.
    pub(crate) json: Option<Arc<RawValue>>,
    /// Interned user id, if it has one.
    user: Option<u32>,
    /// Interned vehicle id, if it has one.
    vehicle: Option<u32>,
}

/// Which list a request reads: a mode alone, or a user, a vehicle, or both, in a mode. Every
/// request has a mode (the contract's default, live, when left out), so these are all the
/// filter combinations the API has, and each has a list of its own: no request filters as
/// it goes, and a page costs the same whichever filters it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    user: Option<u32>,
    vehicle: Option<u32>,
    mode: Mode,
}

impl Entry {
    /// The lists this connection is on.
    fn keys(&self) -> impl Iterator<Item = Key> + use<> {
        let mode = self.record.mode;
        let key = |user, vehicle| Key {
            user,
            vehicle,
            mode,
        };
        [
            Some(key(None, None)),
            self.user.map(|u| key(Some(u), None)),
            self.vehicle.map(|v| key(None, Some(v))),
            self.user
                .zip(self.vehicle)
                .map(|(u, v)| key(Some(u), Some(v))),
        ]
        .into_iter()
        .flatten()
    }
}

/// Ids as small numbers, so the lists' keys are a few bytes instead of a copy of each id.
#[derive(Clone, Debug, Default)]
struct Interner {
    numbers: HashMap<Arc<str>, u32>,
    /// In the order first seen.
    names: Vec<Arc<str>>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        self.numbers.insert(name.clone(), n);
        self.names.push(name);
        n
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }
}

/// At most this many connections: sequence numbers fit in [`MAX_SEQ`] with room for as many
/// removed ones before they are renumbered.
const MAX_CONNECTIONS: usize = (MAX_SEQ / 2) as usize;

/// Removed entries tolerated before renumbering, whatever the size, so small datasets do not
/// renumber on every mutation.
const SLACK: usize = 1024;

/// The sandbox's connections, newest first (`createdAt` descending, as the API orders them).
///
/// Each connection has a sequence number that grows with every insert, and every filter
/// combination a request can have has its own `Ranked` list of those numbers, so listing a
/// page, inserting on top and removing anywhere each cost O(log n) per connection, not
/// O(n): a million connections with churn serve as fast as ten thousand. Mutations change a
/// dataset in place; the sandbox shares its current one by `Arc` and changes it with
/// `Arc::make_mut`, so a snapshot someone still holds is copied once, at the next change,
/// and keeps what it saw.
#[derive(Clone)]
pub struct Dataset {
    seed: u64,
    /// Mutations applied since [`Dataset::generate`]: each draws from its own seeded stream.
    generation: u64,
    /// Latest `createdAt` ever given out (seconds); new connections come after it.
    newest: i64,
    /// Every user ever drawn or read, in that order: the owners mutations draw from, and the
    /// order of [`user_ids`](Self::user_ids).
    users: Interner,
    /// Every vehicle ever listed. Like `users`, it never shrinks: a churning sandbox grows by
    /// one short id per connection it adds.
    vehicles: Interner,
    /// By sequence number, oldest first; `None` once removed, until [`settle`](Self::settle)
    /// renumbers.
    entries: Vec<Option<Entry>>,
    /// Every connection, both modes: what churn picks from.
    all: Ranked,
    /// One list per filter combination that selects anything.
    lists: HashMap<Key, Ranked>,
    /// [`connections`](Self::connections), worked out on the first call after a change.
    listed: OnceLock<Vec<Arc<ConnectionRecord>>>,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("seed", &self.seed)
            .field("generation", &self.generation)
            .field("connections", &self.all.len())
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// `count` connections from `seed`: about four per user, a fifth of them simulated. At
    /// most 2^30 (a terabyte of connections, well past what memory holds).
    pub fn generate(count: usize, seed: u64) -> Self {
        let count = count.min(MAX_CONNECTIONS);
        let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1);
        let mut users = Interner::default();
        let names: Vec<String> = (0..count.div_ceil(4).max(1)).map(|_| rng.id()).collect();
        for name in &names {
            users.intern(name);
        }
        let mut vehicles = Interner::default();
        let mut created = NEWEST;
        let mut newest = None;
        let entries = (0..count)
            .map(|_| {
                created -= 60 + i64::try_from(rng.below(7200)).unwrap_or(0);
                newest.get_or_insert(created);
                let record = ConnectionRecord::draw(&mut rng, created, |rng| {
                    names[rng.below(names.len())].clone()
                });
                Entry {
                    user: Some(users.intern(&record.user_id)),
                    vehicle: Some(vehicles.intern(&record.vehicle_id)),
                    record: Arc::new(record),
                    json: None,
                }
            })
            .collect();
        Self::new(seed, newest.unwrap_or(NEWEST), users, vehicles, entries)
    }

    /// Connections read from a file or text, already newest first; `newest` is the latest
    /// `createdAt` in seconds, if any.
    pub(crate) fn from_loaded(loaded: Vec<Loaded>, newest: Option<i64>) -> Self {
        let mut users = Interner::default();
        let mut vehicles = Interner::default();
        let entries = loaded
            .into_iter()
            .take(MAX_CONNECTIONS)
            .map(|l| Entry {
                user: l.has_user.then(|| users.intern(&l.record.user_id)),
                vehicle: l.has_vehicle.then(|| vehicles.intern(&l.record.vehicle_id)),
                record: Arc::new(l.record),
                json: Some(Arc::from(l.json)),
            })
            .collect();
        Self::new(0, newest.unwrap_or(NEWEST), users, vehicles, entries)
    }

    fn new(
        seed: u64,
        newest: i64,
        users: Interner,
        vehicles: Interner,
        newest_first: Vec<Entry>,
    ) -> Self {
        let mut dataset = Dataset {
            seed,
            generation: 0,
            newest,
            users,
            vehicles,
            entries: Vec::new(),
            all: Ranked::default(),
            lists: HashMap::new(),
            listed: OnceLock::new(),
        };
        dataset.file_all(newest_first);
        dataset
    }

    /// Files `newest_first` from sequence number 0 up (the oldest first), replacing whatever
    /// was filed.
    fn file_all(&mut self, newest_first: Vec<Entry>) {
        self.entries = Vec::with_capacity(newest_first.len());
        self.all = Ranked::default();
        self.lists = HashMap::new();
        for entry in newest_first.into_iter().rev() {
            self.file(entry);
        }
    }

    /// Files `entry` on top of every list it belongs on, as the newest connection.
    fn file(&mut self, entry: Entry) {
        // `entries` stays within MAX_SEQ: `settle` renumbers, and `add` stops short of it.
        let seq = u32::try_from(self.entries.len()).unwrap_or(MAX_SEQ);
        self.all.push(seq);
        for key in entry.keys() {
            self.lists.entry(key).or_default().push(seq);
        }
        self.entries.push(Some(entry));
        self.listed = OnceLock::new();
    }

    /// Takes connection `seq` off every list; its id, if it was there.
    fn unfile(&mut self, seq: u32) -> Option<String> {
        let entry = self.entries.get_mut(seq as usize)?.take()?;
        self.all.remove(seq);
        for key in entry.keys() {
            if let Some(list) = self.lists.get_mut(&key) {
                list.remove(seq);
                if list.len() == 0 {
                    self.lists.remove(&key);
                }
            }
        }
        self.listed = OnceLock::new();
        Some(entry.record.id.clone())
    }

    /// After a mutation: once removed entries outnumber the rest (and [`SLACK`]), files the
    /// rest again from 0, so the sequence numbers and `entries` stay within twice the
    /// connections. One O(n) pass per n removals.
    fn settle(&mut self) {
        self.generation += 1;
        if self.entries.len() - self.all.len() > self.all.len().max(SLACK) {
            let kept: Vec<Entry> = std::mem::take(&mut self.entries)
                .into_iter()
                .rev()
                .flatten()
                .collect();
            self.file_all(kept);
        }
    }

    /// Every connection, newest first: what tests compare listings against. Worked out
    /// (O(n)) on the first call after a change and kept; the server never calls it.
    pub fn connections(&self) -> &[Arc<ConnectionRecord>] {
        self.listed.get_or_init(|| {
            self.entries
                .iter()
                .rev()
                .flatten()
                .map(|e| e.record.clone())
                .collect()
        })
    }

    /// How many connections `filters` select, and those of them from the `skip`-th on, at
    /// most `take`, newest first: a page of what the sandbox serves for them. O(take · log n)
    /// at any depth, whatever the filters.
    ///
    /// This is the sandbox's own filter code: a test that wants to know whether the sandbox
    /// serves the right connections should work them out from [`connections`](Self::connections)
    /// itself, not from this.
    pub(crate) fn page(
        &self,
        filters: Filters<'_>,
        skip: usize,
        take: usize,
    ) -> (usize, Vec<&Entry>) {
        // An id no connection has selects nothing: there is no list to read.
        let id = |given: Option<&str>, ids: &Interner| match given {
            Some(given) => ids.get(given).map(Some),
            None => Some(None),
        };
        let list = id(filters.user_id, &self.users)
            .zip(id(filters.vehicle_id, &self.vehicles))
            .and_then(|(user, vehicle)| {
                self.lists.get(&Key {
                    user,
                    vehicle,
                    mode: filters.effective_mode(),
                })
            });
        let Some(list) = list else {
            return (0, Vec::new());
        };
        let entries = list
            .newest(skip, take)
            .into_iter()
            .filter_map(|seq| self.entries.get(seq as usize)?.as_ref())
            .collect();
        (list.len(), entries)
    }

    /// Reads connections in the API's shape from JSON text: an array of connections, a page
    /// body (`{"data": [...], ...}`, only `data` read), or NDJSON (one connection per line).
    ///
    /// Every connection the contract allows is accepted: every field is optional, and
    /// unknown fields are kept. What is given must have the contract's types (`type` is
    /// `connection`, `year` an integer, `createdAt` and `updatedAt` RFC 3339 date-times,
    /// `mode` `live` or `simulated`, no `null` where the contract has none), and connection
    /// ids must be distinct. Each connection is served exactly as written, byte for byte.
    /// The listing is newest first by `createdAt` (equal ones in the text's order);
    /// connections without one come last, in the text's order. A connection without a
    /// `mode` is listed as live, the mode the contract gives a request that names none, so
    /// the default listing shows it. A mistake is a [`DataError`] naming its line, column
    /// and byte offset.
    ///
    /// ```
    /// use connections_sandbox::Dataset;
    ///
    /// let line = |id: &str, user: &str, at: &str| format!(
    ///     r#"{{"id":"{id}","relationships":{{"user":{{"data":{{"id":"{user}"}}}}}},"meta":{{"createdAt":"{at}"}}}}"#
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

    /// Reads a file with [`from_json`](Self::from_json). A file that cannot be read (missing,
    /// a directory, not allowed) is its I/O error, with the path in the message; one that is
    /// not UTF-8 or not connections is an `InvalidData` error whose inner error is the
    /// [`DataError`] (path included).
    pub fn load(path: impl AsRef<Path>) -> std::io::Result<Dataset> {
        crate::load::load(path.as_ref())
    }

    /// The same connections, with mutations (inserts, churn) drawn from `seed`.
    pub(crate) fn reseeded(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Ids of users that have at least one connection, in a stable order.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.users
            .names
            .iter()
            .zip(0..)
            .filter(|&(_, user)| {
                [Mode::Live, Mode::Simulated].into_iter().any(|mode| {
                    self.lists.contains_key(&Key {
                        user: Some(user),
                        vehicle: None,
                        mode,
                    })
                })
            })
            .map(|(name, _)| &**name)
    }

    /// Puts `n` new connections on top, made after every existing one; returns their ids,
    /// newest first. What is drawn depends only on the seed and the mutations before.
    pub fn insert(&mut self, n: usize) -> Vec<String> {
        let ids = self.add(n, &[]);
        self.settle();
        ids
    }

    /// Removes the connections whose ids are given; returns how many that removed. Unknown
    /// ids are ignored. It looks for them through every connection (O(n)): tests call it,
    /// pages never do.
    pub fn remove<I>(&mut self, ids: I) -> usize
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let ids: Vec<I::Item> = ids.into_iter().collect();
        let wanted: HashSet<&str> = ids.iter().map(AsRef::as_ref).collect();
        let gone: Vec<u32> = (0..)
            .zip(&self.entries)
            .filter(|(_, e)| {
                e.as_ref()
                    .is_some_and(|e| wanted.contains(e.record.id.as_str()))
            })
            .map(|(seq, _)| seq)
            .collect();
        let removed = gone.iter().filter_map(|&seq| self.unfile(seq)).count();
        self.settle();
        removed
    }

    /// Takes out `n` existing connections, picked at random from the seed, and puts `n` new
    /// ones on top: data moving under a listing. With fewer than `n` connections, all of
    /// them go. O(n log size).
    ///
    /// Each new connection takes the mode of one that went, so every mode's listing keeps
    /// its size: what a listing has not reached yet only moves later (newer ones come on
    /// top), never earlier, and a client that leaves out repeats misses nothing that
    /// stayed. Deleting connections before a listing's place ([`remove`](Self::remove)) is
    /// what makes page-number paging skip some, which no client can avoid.
    pub fn churn(&mut self, n: usize) -> Churn {
        let len = self.all.len();
        let mut ranks: Vec<usize> = if n >= len {
            (0..len).collect()
        } else {
            // Floyd's sampling: n distinct ranks, uniformly, without a list of them all.
            let mut rng = self.rng(0x0de1);
            let mut picked = HashSet::with_capacity(n);
            for top in len - n..len {
                let pick = rng.below(top + 1);
                picked.insert(if picked.contains(&pick) { top } else { pick });
            }
            picked.into_iter().collect()
        };
        ranks.sort_unstable();
        let seqs: Vec<u32> = ranks
            .iter()
            .filter_map(|&rank| self.all.nth_newest(rank))
            .collect();
        let modes: Vec<Mode> = seqs
            .iter()
            .filter_map(|&seq| self.entries.get(seq as usize)?.as_ref())
            .map(|e| e.record.mode)
            .collect();
        let removed = seqs
            .into_iter()
            .filter_map(|seq| self.unfile(seq))
            .collect();
        let inserted = self.add(n, &modes);
        self.settle();
        Churn { inserted, removed }
    }

    /// The random stream of the next mutation, distinct per `purpose`.
    fn rng(&self, purpose: u64) -> Rng {
        Rng(mix(self.seed ^ purpose, self.generation + 1) | 1)
    }

    /// Draws `n` new connections on top (fewer if the sequence numbers run out, which takes
    /// 2^30 connections), the first ones with the given `modes`; their ids, newest first.
    fn add(&mut self, n: usize, modes: &[Mode]) -> Vec<String> {
        let mut rng = self.rng(0x1e57);
        let mut ids = Vec::with_capacity(n.min(MAX_CONNECTIONS));
        for i in 0..n {
            if self.entries.len() > MAX_SEQ as usize {
                break;
            }
            self.newest += 1 + i64::try_from(rng.below(600)).unwrap_or(0);
            let users = &mut self.users;
            let record = ConnectionRecord::draw(&mut rng, self.newest, |rng| {
                // Mostly people who already have a vehicle, so user filters see moves too.
                if users.names.is_empty() || rng.below(4) == 0 {
                    let user = rng.id();
                    users.intern(&user);
                    user
                } else {
                    users.names[rng.below(users.names.len())].to_string()
                }
            });
            let mut record = record;
            if let Some(&mode) = modes.get(i) {
                record.mode = mode;
            }
            ids.push(record.id.clone());
            let entry = Entry {
                user: Some(self.users.intern(&record.user_id)),
                vehicle: Some(self.vehicles.intern(&record.vehicle_id)),
                record: Arc::new(record),
                json: None,
            };
            self.file(entry);
        }
        ids.reverse();
        ids
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report

    use super::*;

    fn records(d: &Dataset) -> Vec<ConnectionRecord> {
        d.connections().iter().map(|c| (**c).clone()).collect()
    }

    /// The oracle: what `filters` select, worked out from the records alone, newest first.
    fn brute(d: &Dataset, filters: Filters<'_>) -> Vec<String> {
        d.connections()
            .iter()
            .filter(|c| {
                filters.user_id.is_none_or(|u| u == c.user_id)
                    && filters.vehicle_id.is_none_or(|v| v == c.vehicle_id)
                    && filters.effective_mode() == c.mode
            })
            .map(|c| c.id.clone())
            .collect()
    }

    /// What `page` serves for `filters`, `take` at a time from the top, and every total.
    fn paged(d: &Dataset, filters: Filters<'_>, take: usize) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let (total, page) = d.page(filters, ids.len(), take);
            assert_eq!(total, brute(d, filters).len(), "{filters:?}");
            if page.is_empty() {
                return ids;
            }
            assert!(page.len() <= take);
            ids.extend(page.iter().map(|e| e.record.id.clone()));
        }
    }

    /// Every filter combination over some of the dataset's users and vehicles, and ids no
    /// connection has.
    fn every_filter(d: &Dataset) -> Vec<(Option<String>, Option<String>, Option<Mode>)> {
        let mut users: Vec<Option<String>> = vec![None, Some("nobody".into()), Some(String::new())];
        let mut vehicles = users.clone();
        for c in d.connections().iter().step_by(7).take(12) {
            users.push(Some(c.user_id.clone()));
            vehicles.push(Some(c.vehicle_id.clone()));
        }
        let mut all = Vec::new();
        for user in &users {
            for vehicle in &vehicles {
                for mode in [None, Some(Mode::Live), Some(Mode::Simulated)] {
                    all.push((user.clone(), vehicle.clone(), mode));
                }
            }
        }
        all
    }

    fn check_every_filter(d: &Dataset) {
        for (user, vehicle, mode) in every_filter(d) {
            let filters = Filters {
                user_id: user.as_deref(),
                vehicle_id: vehicle.as_deref(),
                mode,
            };
            for take in [1, 3, 100] {
                assert_eq!(
                    paged(d, filters, take),
                    brute(d, filters),
                    "{filters:?} by {take}"
                );
            }
        }
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
        let owners: HashSet<&str> = a.connections().iter().map(|c| c.user_id.as_str()).collect();
        assert_eq!(users.len(), owners.len(), "every owner is listed once");
    }

    #[test]
    fn every_filter_combination_pages_exactly_the_matching_connections() {
        let d = Dataset::generate(300, 1);
        let simulated = brute(
            &d,
            Filters {
                mode: Some(Mode::Simulated),
                ..Filters::default()
            },
        );
        assert!(!simulated.is_empty() && simulated.len() < 150);
        // No mode given means live, as in the API.
        assert_eq!(
            paged(&d, Filters::default(), 10),
            brute(
                &d,
                Filters {
                    mode: Some(Mode::Live),
                    ..Filters::default()
                }
            )
        );
        check_every_filter(&d);
        // Far past the end: the total, and nothing.
        let (total, page) = d.page(Filters::default(), usize::MAX, usize::MAX);
        assert_eq!(
            (total, page.len()),
            (brute(&d, Filters::default()).len(), 0)
        );
    }

    #[test]
    fn pages_stay_exact_while_the_data_churns_and_renumbers() {
        let mut d = Dataset::generate(400, 5);
        let mut previous = records(&d);
        // Enough churn to renumber more than once (removed entries outnumber SLACK).
        for round in 0..160 {
            let churn = d.churn(9);
            assert_eq!((churn.inserted.len(), churn.removed.len()), (9, 9));
            let now = records(&d);
            assert_eq!(now.len(), 400);
            // The removed were in the listing, in listing order; the new are on top.
            let position = |id: &str| previous.iter().position(|c| c.id == id).unwrap();
            let at: Vec<usize> = churn.removed.iter().map(|id| position(id)).collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
            let top: Vec<&str> = now[..9].iter().map(|c| c.id.as_str()).collect();
            assert_eq!(
                top,
                churn
                    .inserted
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            );
            let kept: Vec<&ConnectionRecord> = previous
                .iter()
                .filter(|c| !churn.removed.contains(&c.id))
                .collect();
            assert_eq!(now[9..].iter().collect::<Vec<_>>(), kept);
            if round % 40 == 0 {
                check_every_filter(&d);
            }
            previous = now;
        }
        assert!(d.entries.len() <= 2 * d.all.len() + SLACK, "renumbered");
        check_every_filter(&d);
    }

    #[test]
    fn mutations_are_deterministic_and_keep_the_order() {
        let d = Dataset::generate(50, 9);
        let (mut a, mut b) = (d.clone(), d.clone());
        let churn_a = a.churn(4);
        let churn_b = b.churn(4);
        assert_eq!(churn_a, churn_b);
        assert_eq!(records(&a), records(&b));
        let mut next = a.clone();
        next.churn(4);
        assert_ne!(records(&next), records(&a), "each mutation draws anew");
        assert_eq!(records(&d).len(), 50, "a copy keeps what it had");
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

        let mut small = Dataset::generate(2, 1);
        let before = records(&small);
        let churn = small.churn(5);
        assert_eq!((churn.removed.len(), churn.inserted.len()), (2, 5));
        assert_eq!(
            churn.removed,
            before.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
        );
        assert_eq!(small.connections().len(), 5);
        let newest = small.connections()[0].created_at.clone();
        assert_eq!(small.remove(&churn.inserted), 5);
        assert_eq!(small.connections().len(), 0);
        assert_eq!(small.user_ids().count(), 0);
        assert!(small.lists.is_empty(), "no list is left for nothing");
        let ids = small.insert(1);
        assert_eq!(small.connections()[0].id, ids[0]);
        assert!(small.connections()[0].created_at > newest);
        assert_eq!(small.remove(["unknown"]), 0);
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
