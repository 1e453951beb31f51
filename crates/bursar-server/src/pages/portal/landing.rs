//! Where the platform's sign-in link lands a learner: `next`, a path inside
//! the portal, parsed and written out again in one canonical form, or
//! refused. Refused: control characters (raw or percent-encoded),
//! backslashes, fragments, anything but `/portal` or a path under
//! `/portal/`, empty segments (`//`), dot segments (`.`, `..`, also
//! percent-encoded) and encoded slashes. The result is plain ASCII, so it is
//! always a valid `Location`.

/// The path to redirect to: `/portal` when `next` is absent or empty.
pub(super) fn landing(next: Option<&str>) -> Result<String, &'static str> {
    let Some(next) = next.filter(|n| !n.is_empty()) else { return Ok("/portal".to_string()) };
    if next.chars().any(char::is_control) {
        return Err("control characters");
    }
    if next.contains('\\') {
        return Err("a backslash");
    }
    if next.contains('#') {
        return Err("a fragment");
    }
    let (path, query) = match next.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (next, None),
    };
    let mut segments = path.split('/');
    if segments.next() != Some("") || segments.next() != Some("portal") {
        return Err("a path outside /portal");
    }
    let mut out = String::from("/portal");
    let rest: Vec<&str> = segments.collect();
    for (i, raw) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if raw.is_empty() && last {
            break; // a trailing slash
        }
        let segment = decode(raw).ok_or("a malformed percent-encoding")?;
        if segment.is_empty() {
            return Err("an empty segment");
        }
        if segment == "." || segment == ".." {
            return Err("a dot segment");
        }
        if segment.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            return Err("an encoded control character, slash or backslash");
        }
        out.push('/');
        encode(&segment, b"-._~!$&'()*+,;=:@", &mut out);
    }
    if let Some(q) = query {
        let decoded = decode(q).ok_or("a malformed percent-encoding")?;
        if decoded.chars().any(char::is_control) {
            return Err("an encoded control character");
        }
        out.push('?');
        // Already-encoded bytes stay as they are; the rest is encoded.
        encode(q, b"-._~!$&'()*+,;=:@/?%", &mut out);
    }
    Ok(out)
}

/// Percent-decodes to UTF-8; `None` for a `%` not followed by two hex
/// digits or bytes that are no UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn encode(s: &str, keep: &[u8], out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::landing;

    #[test]
    fn portal_paths_are_kept_in_canonical_form() {
        for (next, want) in [
            (None, "/portal"),
            (Some(""), "/portal"),
            (Some("/portal"), "/portal"),
            (Some("/portal/"), "/portal"),
            (Some("/portal/change?subscription=sub_1&plan=grow"), "/portal/change?subscription=sub_1&plan=grow"),
            (Some("/portal/caf%c3%a9"), "/portal/caf%C3%A9"),
            (Some("/portal/café"), "/portal/caf%C3%A9"),
            (Some("/portal/a b?q=x y%20z"), "/portal/a%20b?q=x%20y%20z"),
            (Some("/portal/..."), "/portal/..."),
        ] {
            assert_eq!(landing(next).as_deref(), Ok(want), "{next:?}");
        }
    }

    #[test]
    fn anything_leaving_the_portal_is_refused() {
        for next in [
            "//evil.example/",
            "https://evil.example/portal",
            "/portalx",
            "/portal/../x",
            "/portal/./change",
            "/portal/%2e%2e/x",
            "/portal/%2E%2E",
            "/portal/.%2e/x",
            "/portal//evil.example",
            "/portal/a%2f..%2f..%2fx",
            "/portal\\evil",
            "/portal/%5c%5cevil",
            "/portal\r\nSet-Cookie: a=b",
            "/portal/%0d%0aSet-Cookie:%20a=b",
            "/portal?x=%0a",
            "/portal/\u{0}",
            "/portal/\u{85}",
            "/portal/change#top",
            "/portal/%zz",
            "/portal/%ff",
            "portal",
            "/",
        ] {
            assert!(landing(Some(next)).is_err(), "{next:?}");
        }
    }
}
