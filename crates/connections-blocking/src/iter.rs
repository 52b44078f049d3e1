//! Sequential pagination: the core's [`Paginator`] decides every next request; these
//! iterators only fetch and hand pages (or their connections) over.

use std::vec;

use connections_core::{Connection, ListConnections, Owned, Page, Paginator};

use crate::{Client, Error};

/// The pages of one listing; ends after the last page or after the first error.
pub(crate) struct Pages {
    client: Client,
    paginator: Paginator<'static>,
    /// An error to yield after the page that caused it.
    pending: Option<Error>,
    done: bool,
}

impl Pages {
    pub(crate) fn new(client: Client, request: ListConnections<'static>) -> Self {
        let config = client.config();
        let paginator =
            Paginator::new(config.base_url.clone(), request).with_max_pages(config.max_pages);
        Pages {
            client,
            paginator,
            pending: None,
            done: false,
        }
    }
}

impl Iterator for Pages {
    type Item = Result<Page<Owned>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.pending.take() {
            self.done = true;
            return Some(Err(error));
        }
        if self.done {
            return None;
        }
        let Some(request) = self.paginator.next_request().cloned() else {
            self.done = true;
            return None;
        };
        let page = match self.client.list(&request) {
            Ok(listed) => listed.value,
            Err(error) => {
                self.done = true;
                return Some(Err(error));
            }
        };
        match self.paginator.feed(&page) {
            Ok(_) => Some(Ok(page)),
            // A valid page whose `next` cannot be followed: hand it over, then say why the
            // listing stops.
            Err(error) if error.page_is_new() => {
                self.pending = Some(error.into());
                Some(Ok(page))
            }
            Err(error) => {
                self.done = true;
                Some(Err(error.into()))
            }
        }
    }
}

/// The connections of one listing, page after page.
pub(crate) struct Connections {
    pages: Pages,
    current: vec::IntoIter<Connection<Owned>>,
}

impl Connections {
    pub(crate) fn new(pages: Pages) -> Self {
        Connections {
            pages,
            current: Vec::new().into_iter(),
        }
    }
}

impl Iterator for Connections {
    type Item = Result<Connection<Owned>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(connection) = self.current.next() {
                return Some(Ok(connection));
            }
            // Empty pages (even with a `next` link) are skipped, not an end.
            match self.pages.next()? {
                Ok(page) => self.current = page.data.into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}
