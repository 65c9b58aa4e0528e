//! Request authentication as ApiServlet/ApiServer do it: a login session (JSESSIONID cookie plus the
//! matching sessionkey) or a signed request (signature over the sorted, Java-encoded, lower-cased
//! parameters; with signatureversion=3 an `expires` that has not passed).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::state::{State, UserRec};

/// java.net.URLEncoder.encode(v, UTF-8) with "+" replaced by "%20" (what the server signs).
pub fn java_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push_str("%20"),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decode a form/query component as the servlet does (URLDecoder: "+" is a space).
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse `a=1&b=2` into pairs (decoded), in order.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('=').map(|(k, v)| (form_decode(k), form_decode(v))))
        .collect()
}

/// One value per name, as the servlet hands them to the API: the last of a GET's repeated name, the first
/// of a POST's. Names compare as sent; the order of first appearance is kept.
pub fn dedup(params: Vec<(String, String)>, keep_last: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    for (k, v) in params {
        match out.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) if keep_last => slot.1 = v,
            Some(_) => {}
            None => out.push((k, v)),
        }
    }
    out
}

/// Why a signed request was refused (the server logs this; the client only sees 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    MissingSignatureOrKey,
    MissingExpires,
    BadExpires,
    Expired,
    UnknownKey,
    BadSignature,
}

/// Verify a signed request; on success, the user the key belongs to.
pub fn verify_signature(params: &[(String, String)], state: &State, now: chrono::DateTime<chrono::Utc>) -> Result<UserRec, Refused> {
    // Names as sent, sorted with Java's String order; a repeated name keeps its last value.
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in params {
        map.insert(k.clone(), v.clone());
    }
    let (mut signature, mut apikey, mut version, mut expires) = (None, None, None, None);
    let mut unsigned = Vec::new();
    for (k, v) in &map {
        if k.eq_ignore_ascii_case("signature") {
            signature = Some(v.clone());
            continue;
        }
        if k.eq_ignore_ascii_case("apikey") {
            apikey = Some(v.clone());
        } else if k.eq_ignore_ascii_case("signatureversion") {
            version = Some(v.clone());
        } else if k.eq_ignore_ascii_case("expires") {
            expires = Some(v.clone());
        }
        unsigned.push(format!("{k}={}", java_encode(v)));
    }
    let (Some(signature), Some(apikey)) = (signature, apikey) else {
        return Err(Refused::MissingSignatureOrKey);
    };
    if version.as_deref() == Some("3") {
        let e = expires.ok_or(Refused::MissingExpires)?;
        let t = parse_expires(&e).ok_or(Refused::BadExpires)?;
        if t < now {
            return Err(Refused::Expired);
        }
    }
    let user = state.users.iter().find(|u| u.apikey.as_deref() == Some(apikey.as_str())).ok_or(Refused::UnknownKey)?;
    let secret = user.secretkey.clone().unwrap_or_default();
    let text = unsigned.join("&").to_lowercase();
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(text.as_bytes());
    let computed = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if constant_time_eq(computed.as_bytes(), signature.as_bytes()) {
        Ok(user.clone())
    } else {
        Err(Refused::BadSignature)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The formats DateUtil.parseTZDateString accepts.
pub fn parse_expires(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::DateTime;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%SZ%z"]
        .iter()
        .find_map(|f| DateTime::parse_from_str(s, f).ok())
        .map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names() {
        let p = vec![("a".to_string(), "1".to_string()), ("b".into(), "x".into()), ("a".into(), "2".into())];
        assert_eq!(dedup(p.clone(), true), vec![("a".to_string(), "2".to_string()), ("b".into(), "x".into())]);
        assert_eq!(dedup(p, false), vec![("a".to_string(), "1".to_string()), ("b".into(), "x".into())]);
    }

    #[test]
    fn decoding() {
        assert_eq!(form_decode("a+b%20c%2B%7E%C3%A9"), "a b c+~é");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(parse_form("a=1&b=x%3Dy&&c="), vec![("a".into(), "1".into()), ("b".into(), "x=y".into()), ("c".into(), "".into())]);
    }

    #[test]
    fn encoding() {
        assert_eq!(java_encode("a b+c~*é[0]"), "a%20b%2Bc%7E*%C3%A9%5B0%5D");
    }
}
