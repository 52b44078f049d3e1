//! The body of every request: empty for the API's `GET`s, or the token request's form, which
//! holds the client secret and is overwritten as soon as hyper has taken all of it (copied
//! into its write buffer or written out), and again when dropped, as the blocking transport
//! does with its own. Copies made past that point (hyper's and rustls' buffers, the kernel's)
//! are out of reach.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use hyper::body::{Body, Frame, SizeHint};
use zeroize::{Zeroize, Zeroizing};

/// A request body, sent in one frame.
#[derive(Default)]
pub(crate) struct RequestBody(Option<Wiped>);

impl From<Vec<u8>> for RequestBody {
    fn from(bytes: Vec<u8>) -> Self {
        let bytes = Zeroizing::new(bytes);
        RequestBody((!bytes.is_empty()).then_some(Wiped { bytes, taken: 0 }))
    }
}

impl Body for RequestBody {
    type Data = Wiped;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Wiped>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Exact, so that hyper sends a `Content-Length` rather than chunks.
        let len = self.0.as_ref().map_or(0, Buf::remaining);
        SizeHint::with_exact(u64::try_from(len).unwrap_or(u64::MAX))
    }
}

/// Bytes zeroed once hyper has taken them all, and when dropped.
pub(crate) struct Wiped {
    bytes: Zeroizing<Vec<u8>>,
    taken: usize,
}

impl Buf for Wiped {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.taken
    }

    fn chunk(&self) -> &[u8] {
        &self.bytes[self.taken..]
    }

    fn advance(&mut self, n: usize) {
        assert!(n <= self.remaining(), "advanced past the end of the body");
        self.taken += n;
        if self.taken == self.bytes.len() {
            // In place, keeping the length (and `taken`), so nothing reads as unsent.
            self.bytes.as_mut_slice().zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn the_form_is_zeroed_once_hyper_has_taken_it() {
        let form = b"grant_type=client_credentials&client_secret=very-secret".to_vec();
        let len = form.len();
        let mut body = RequestBody::from(form);
        assert_eq!(body.size_hint().exact(), Some(len as u64));
        let mut data = body
            .frame()
            .await
            .expect("one frame")
            .expect("infallible")
            .into_data()
            .unwrap_or_else(|_| panic!("a data frame"));
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
        // Taken in two writes, as a connection may.
        assert!(data.chunk().ends_with(b"very-secret"));
        data.advance(10);
        assert!(data.bytes.ends_with(b"very-secret"), "still being sent");
        data.advance(len - 10);
        assert_eq!((data.remaining(), data.chunk()), (0, &[][..]));
        assert_eq!(data.bytes.len(), len);
        let left = data.bytes.iter().filter(|&&b| b != 0).count();
        assert_eq!(left, 0, "bytes of the form left unwiped");
    }

    #[test]
    fn an_empty_body_is_no_frame() {
        let body = RequestBody::default();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(RequestBody::from(Vec::new()).is_end_stream());
    }
}
