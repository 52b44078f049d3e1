//! gzip on request (`Accept-Encoding`), and the gzip bomb fault.

use std::io::{self, Write as _};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use hyper::HeaderMap;
use hyper::header::ACCEPT_ENCODING;

/// Whether the request's `Accept-Encoding` lets the answer be gzip: `gzip` (or `x-gzip`) with
/// a non-zero q-value, or else `*` with a non-zero q-value. A minimal RFC 9110 §12.5.3 reading:
/// the only preference it honours is `q=0`, "not acceptable".
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let wanted = parts
                .filter_map(|p| p.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .is_none_or(|(_, q)| nonzero_q(q.trim()));
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                // The first mention decides, like a parser that stops at the first match.
                gzip.get_or_insert(wanted);
            } else if coding == "*" {
                any.get_or_insert(wanted);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// A q-value above zero. Malformed ones count as 1, the default: a garbled preference is not a
/// refusal.
fn nonzero_q(q: &str) -> bool {
    match q.parse::<f32>() {
        Ok(q) => q > 0.0,
        Err(_) => true,
    }
}

/// `body` as one gzip member, at level 2: a fast setting, as busy servers use (nginx's default
/// is 1). With zlib-rs, level 2 costs what level 1 does (a quarter of a millisecond for a
/// page of 100) and is 10% larger than level 6, where level 1 is 50% larger. The sandbox's
/// compression time counts in every client benchmark against it, so it is kept cheap.
pub(crate) fn compress(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Compression::new(2));
    encoder.write_all(body)?;
    encoder.finish()
}

/// What the bomb inflates to: this, then [`BOMB_CHUNKS`] × [`BOMB_CHUNK`] spaces, then
/// [`BOMB_TAIL`]: valid JSON, if a client gets that far.
const BOMB_HEAD: &[u8] = b"{\"data\":[";
const BOMB_TAIL: &[u8] = b"]}";
/// A multiple of deflate's 32 KiB window, so every chunk starts at the same window offset.
const BOMB_CHUNK: usize = 1 << 20;
/// 300 MiB of spaces.
const BOMB_CHUNKS: usize = 300;

/// How many bytes the bomb inflates to.
pub(crate) const BOMB_INFLATED: u64 =
    (BOMB_HEAD.len() + BOMB_CHUNKS * BOMB_CHUNK + BOMB_TAIL.len()) as u64;

/// A gzip member of a few hundred KB that inflates to [`BOMB_INFLATED`] (about 315 MB) of
/// JSON-looking bytes.
///
/// Deflating all 300 MiB takes over five seconds in a debug build (most of a second in an
/// optimized one), so only the first chunks are compressed (some 40 ms in a debug build): each chunk ends with a full flush, which empties the compressor's dictionary,
/// so an identical chunk that starts at the same window offset compresses to identical bytes.
/// Once two chunks in a row come out the same, the rest repeat them; the CRC-32 is combined
/// rather than computed over every byte. Should the compressor ever disagree, it falls back
/// to compressing every chunk.
pub(crate) fn bomb() -> io::Result<Bytes> {
    let spaces = vec![b' '; BOMB_CHUNK];
    let mut deflate = Compress::new(Compression::best(), false);
    // RFC 1952 header: no name, no mtime, "maximum compression", unknown OS.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    out.extend(deflate_vec(&mut deflate, BOMB_HEAD, FlushCompress::Full)?);
    let mut last: Option<Vec<u8>> = None;
    let mut done = 0;
    while done < BOMB_CHUNKS {
        let block = deflate_vec(&mut deflate, &spaces, FlushCompress::Full)?;
        done += 1;
        out.extend_from_slice(&block);
        if last.as_ref() == Some(&block) {
            // Steady state: every later chunk would compress to these same bytes.
            for _ in done..BOMB_CHUNKS {
                out.extend_from_slice(&block);
            }
            break;
        }
        last = Some(block);
    }
    out.extend(deflate_vec(&mut deflate, BOMB_TAIL, FlushCompress::Finish)?);

    let mut crc = Crc::new();
    crc.update(BOMB_HEAD);
    let mut chunk = Crc::new();
    chunk.update(&spaces);
    for _ in 0..BOMB_CHUNKS {
        crc.combine(&chunk);
    }
    crc.update(BOMB_TAIL);
    out.extend(crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend((BOMB_INFLATED as u32).to_le_bytes());
    Ok(Bytes::from(out))
}

/// Raw deflate of `input`, then `flush`; returns the bytes this produced.
fn deflate_vec(
    deflate: &mut Compress,
    mut input: &[u8],
    flush: FlushCompress,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 512 + 4096);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity());
        }
        let before = deflate.total_in();
        let status = deflate
            .compress_vec(input, &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(deflate.total_in() - before).unwrap_or(usize::MAX);
        input = input.get(consumed..).unwrap_or_default();
        let room_left = out.capacity() - out.len() >= 1024;
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError
                if input.is_empty() && room_left && flush != FlushCompress::Finish =>
            {
                return Ok(out);
            }
            Status::Ok | Status::BufError => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn accept_encoding_is_read_with_q_values() {
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["GZip"]));
        assert!(accepts(&["x-gzip"]));
        assert!(accepts(&["deflate, gzip;q=0.5, br"]));
        assert!(accepts(&["br", "gzip"]), "a second header line counts");
        assert!(accepts(&["gzip ; q=1.0"]));
        assert!(accepts(&["*"]));
        assert!(
            accepts(&["gzip;q=junk"]),
            "a malformed q-value is the default, 1"
        );
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["br, deflate"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; Q=0.000"]));
        assert!(
            !accepts(&["gzip;q=0, *"]),
            "gzip refused by name beats the wildcard"
        );
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["gzipx, xgzip"]));
    }

    #[test]
    fn compress_round_trips() {
        use std::io::Read as _;
        let body = br#"{"data":[],"meta":{}}"#.repeat(50);
        let compressed = compress(&body).unwrap();
        assert!(compressed.len() < body.len() / 4);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
    }

    /// The whole bomb inflates to exactly what it claims: reading to the end also checks
    /// the trailer's CRC-32 and length, so the repeated blocks and the combined CRC agree.
    #[test]
    fn the_bomb_inflates_to_head_spaces_tail_with_a_valid_trailer() {
        use std::io::Read as _;
        let bomb = bomb().unwrap();
        assert!(bomb.len() < 512 * 1024, "{}", bomb.len());
        let mut inflating = flate2::read::GzDecoder::new(&bomb[..]);
        let mut buf = vec![0; 1 << 16];
        let spaces = vec![b' '; buf.len()];
        let (mut total, mut first, mut last) = (0u64, Vec::new(), Vec::new());
        let mut other_than_space = 0u64;
        loop {
            let n = inflating.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            if first.is_empty() {
                first = buf[..n.min(16)].to_vec();
            }
            // Compare whole reads first: counting byte by byte is slow in a debug build.
            if buf[..n] != spaces[..n] {
                other_than_space += buf[..n].iter().filter(|&&b| b != b' ').count() as u64;
            }
            last = buf[n.saturating_sub(2)..n].to_vec();
            total += n as u64;
        }
        assert_eq!(total, BOMB_INFLATED);
        assert!(first.starts_with(BOMB_HEAD), "{first:?}");
        assert_eq!(last, BOMB_TAIL);
        assert_eq!(other_than_space, (BOMB_HEAD.len() + BOMB_TAIL.len()) as u64);
    }
}
