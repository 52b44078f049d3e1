//! `http::Request`s for transports built on the `http` crate's types
//! (hyper, reqwest, ureq, tower).

use alloc::string::String;

use http::{HeaderValue, Request};

use super::parts::RequestParts;

impl RequestParts<'_> {
    /// Builds a `GET` with the absolute URL (base prefix included) and all
    /// headers; the `Authorization` value is marked sensitive so `http`'s
    /// `Debug` and HTTP/2 header compression leave it out.
    pub fn to_http_request<B: Default>(&self) -> Result<Request<B>, http::Error> {
        let mut uri = String::new();
        // Writing to a `String` cannot fail, and our writers only pass its errors on.
        let _ = self.write_url(&mut uri);
        let mut builder = Request::builder().method(self.method()).uri(uri);
        for header in self.headers() {
            let mut value = String::new();
            let _ = header.write_value(&mut value);
            let mut value = HeaderValue::try_from(value)?;
            value.set_sensitive(header.sensitive);
            builder = builder.header(header.name, value);
        }
        builder.body(B::default())
    }
}

#[cfg(test)]
mod tests {
    use crate::request::builder::ListConnections;
    use crate::request::parts::{AccessToken, USER_AGENT};
    use crate::request::url::BaseUrl;
    use alloc::{format, vec::Vec};
    use http::header::{ACCEPT, AUTHORIZATION, USER_AGENT as USER_AGENT_HEADER};

    const SECRET: &str = "s3cr3t-token";

    #[test]
    fn builds_a_get_with_full_uri_and_sensitive_auth() {
        let req = ListConnections::builder()
            .user_id("u&1")
            .page_number(2)
            .page_size(10)
            .build()
            .expect("valid request");
        let token = AccessToken::new(SECRET).expect("valid token");
        let base = BaseUrl::SMARTCAR;
        let request = req
            .parts(&base, &token)
            .to_http_request::<Vec<u8>>()
            .expect("valid request");

        assert_eq!(request.method(), http::Method::GET);
        assert_eq!(
            request.uri(),
            "https://vehicle.api.smartcar.com/v3/connections\
             ?filter%5BuserId%5D=u%261&page%5Bnumber%5D=2&page%5Bsize%5D=10"
        );
        let headers = request.headers();
        assert_eq!(headers.len(), 3);
        let auth = headers.get(AUTHORIZATION).expect("Authorization header");
        assert_eq!(auth, format!("Bearer {SECRET}").as_str());
        assert!(auth.is_sensitive());
        assert_eq!(
            headers.get(ACCEPT).expect("Accept header"),
            "application/json"
        );
        let agent = headers.get(USER_AGENT_HEADER).expect("User-Agent header");
        assert_eq!(agent, USER_AGENT);
        assert!(!agent.is_sensitive());
        assert!(request.body().is_empty());
        assert!(!format!("{request:?}").contains(SECRET));
    }

    #[test]
    fn keeps_a_loopback_port_and_the_user_agent_suffix() {
        let base = BaseUrl::parse("http://[::1]:8080/api/").expect("valid base");
        let token = AccessToken::new(SECRET).expect("valid token");
        let req = ListConnections::new();
        let request = req
            .parts(&base, &token)
            .user_agent_suffix("demo/1")
            .expect("valid suffix")
            .to_http_request::<()>()
            .expect("valid request");
        assert_eq!(request.uri(), "http://[::1]:8080/api/connections");
        assert_eq!(
            request
                .headers()
                .get(USER_AGENT_HEADER)
                .expect("User-Agent header"),
            format!("{USER_AGENT} demo/1").as_str()
        );
    }
}
