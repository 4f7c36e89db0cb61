//! dockerd's image store, for the watch and the audit: the image list, the image event stream
//! (`GET /events?filters={"type":["image"]}`), and forced removal. Inspecting and verifying one
//! image is the Docker guard's ([`crate::docker::Guard::local_image`]).

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::docker::Dockerd;
use crate::http::pct_encode;

/// Listing answers are read up to this size.
const MAX_LIST: usize = 64 << 20;
/// One event line at most (dockerd's are a few hundred bytes).
const MAX_EVENT_LINE: usize = 1 << 20;

/// The image event actions that bring an image in or give it a new name.
pub const ARRIVALS: &[&str] = &["pull", "tag", "load", "import"];

/// One image in dockerd's list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub tags: Vec<String>,
}

/// An image event: what happened (`pull`, `tag`, ...) to which image (ID or reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub action: String,
    pub image: String,
    /// The name the event is about (`Actor.Attributes.name`), when dockerd gives one.
    pub name: Option<String>,
}

fn request(method: hyper::Method, uri: &str) -> Result<Request<crate::docker::Body>, String> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "docker")
        .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
        .map_err(|e| format!("bad request to the Docker daemon: {e}"))
}

/// `GET /images/json?all=1`: every image, by ID.
pub async fn list(d: &Dockerd) -> Result<Vec<Listed>, String> {
    let resp = d
        .send(request(hyper::Method::GET, "/images/json?all=1")?)
        .await?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_LIST)
        .collect()
        .await
        .map_err(|e| format!("reading the Docker daemon's image list failed: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("image list answered {status}"));
    }
    parse_list(&body)
}

fn parse_list(body: &[u8]) -> Result<Vec<Listed>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("image list is not JSON: {e}"))?;
    let items = v.as_array().ok_or("image list is not a JSON array")?;
    let mut out = Vec::new();
    for i in items {
        let Some(id) = i
            .get("Id")
            .and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
        else {
            return Err("image list entry without an Id".into());
        };
        let tags = i
            .get("RepoTags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str())
                    .filter(|s| *s != "<none>:<none>")
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        out.push(Listed {
            id: id.to_string(),
            tags,
        });
    }
    out.sort_by(|a, b| a.tags.first().cmp(&b.tags.first()).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// The tags of one image (`GET /images/{id}/json`, its `RepoTags`); none when it is gone.
pub async fn tags(d: &Dockerd, id: &str) -> Result<Vec<String>, String> {
    let uri = format!("/images/{}/json", pct_encode(id));
    let resp = d.send(request(hyper::Method::GET, &uri)?).await?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_LIST)
        .collect()
        .await
        .map_err(|e| format!("reading the Docker daemon's answer failed: {e}"))?
        .to_bytes();
    if status == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if !status.is_success() {
        return Err(format!("image inspect answered {status}"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("image inspect is not JSON: {e}"))?;
    Ok(v.get("RepoTags")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .filter(|s| *s != "<none>:<none>")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// Open the image event stream; read it with [`EventLines`].
pub async fn events(d: &Dockerd) -> Result<Incoming, String> {
    // {"type":["image"]}
    let uri = "/events?filters=%7B%22type%22%3A%5B%22image%22%5D%7D";
    let resp = d.send(request(hyper::Method::GET, uri)?).await?;
    if resp.status() != StatusCode::OK {
        return Err(format!("the event stream answered {}", resp.status()));
    }
    Ok(resp.into_body())
}

/// Splits dockerd's event stream (one JSON object a line) into events.
#[derive(Default)]
pub struct EventLines {
    buf: BytesMut,
}

impl EventLines {
    /// Feed bytes; returns the complete events they finish (lines that are not image events
    /// are skipped; an overlong line is an error).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Event>, String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let line = self.buf.split_to(nl + 1);
            if let Some(e) = parse_event(&line[..nl])? {
                out.push(e);
            }
        }
        if self.buf.len() > MAX_EVENT_LINE {
            return Err("an event line from dockerd is too long".into());
        }
        Ok(out)
    }
}

fn parse_event(line: &[u8]) -> Result<Option<Event>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("event from dockerd is not JSON: {e}"))?;
    if v.get("Type").and_then(|t| t.as_str()) != Some("image") {
        return Ok(None);
    }
    let action = v
        .get("Action")
        .and_then(|a| a.as_str())
        .unwrap_or("")
        .to_string();
    let actor = v.get("Actor");
    let image = actor
        .and_then(|a| a.get("ID"))
        .and_then(|i| i.as_str())
        .or_else(|| v.get("id").and_then(|i| i.as_str()))
        .unwrap_or("")
        .to_string();
    if image.is_empty() {
        return Ok(None);
    }
    let name = actor
        .and_then(|a| a.get("Attributes"))
        .and_then(|a| a.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    Ok(Some(Event {
        action,
        image,
        name,
    }))
}

/// `DELETE /images/{id}?force=1`: the image and every tag of it.
pub async fn remove(d: &Dockerd, id: &str) -> Result<(), String> {
    let uri = format!("/images/{}?force=1", pct_encode(id));
    let resp = d.send(request(hyper::Method::DELETE, &uri)?).await?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_LIST)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if status.is_success() || status == StatusCode::NOT_FOUND {
        Ok(())
    } else {
        Err(format!(
            "image remove answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        ))
    }
}

/// For the `store_answers` fuzz target only: dockerd's `/events` stream (fed in `chunk`-byte
/// pieces) and its `/images/json` listing, as the store watch reads them.
#[doc(hidden)]
pub fn fuzz_answers(events: &[u8], chunk: usize, list: &[u8]) -> usize {
    let mut lines = EventLines::default();
    let mut n = 0;
    for piece in events.chunks(chunk.max(1)) {
        match lines.push(piece) {
            Ok(e) => n += e.len(),
            Err(_) => break,
        }
    }
    n + parse_list(list).map_or(0, |l| l.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_split_across_chunks() {
        let mut l = EventLines::default();
        let a = br#"{"Type":"image","Action":"pull","Actor":{"ID":"r:5000/a:1","Attributes":{"name":"r:5000/a"}}}"#;
        let (x, y) = a.split_at(20);
        assert!(l.push(x).unwrap().is_empty());
        let mut rest = y.to_vec();
        rest.extend_from_slice(
            b"\n{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"c\"}}\n",
        );
        let got = l.push(&rest).unwrap();
        assert_eq!(
            got,
            vec![Event {
                action: "pull".into(),
                image: "r:5000/a:1".into(),
                name: Some("r:5000/a".into())
            }]
        );
        assert!(l.push(b"not json\n").is_err());
    }

    #[test]
    fn list_parses_and_rejects_garbage() {
        let v = parse_list(br#"[{"Id":"sha256:b","RepoTags":["<none>:<none>"]},{"Id":"sha256:a","RepoTags":["x:1"]}]"#).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].id, "sha256:b");
        assert!(v[0].tags.is_empty());
        assert_eq!(v[1].tags, vec!["x:1"]);
        assert!(parse_list(b"{}").is_err());
        assert!(parse_list(br#"[{"RepoTags":[]}]"#).is_err());
    }
}
