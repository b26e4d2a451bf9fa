//! Request bodies are read as I-JSON (RFC 7493), in one pass that builds the value.
//!
//! serde_json alone lets the last of two members with one name win: a proxy that reads the
//! first and authd the last would then see different credentials. Here a name repeated in
//! one object, at any depth, is refused (§2.3); names are compared as serde_json hands them
//! over, after escapes are processed, so `"a"` and `"\u0061"` are the same name. Strings and
//! names holding a Unicode noncharacter are refused too (§2.1). The other rules hold already:
//! serde_json reads only UTF-8 and refuses escapes that leave a lone surrogate (§2.1), and a
//! number beyond double range (`1e400`) is a syntax error; no body field is a number, so
//! precision beyond a double (§2.2) never matters. Nesting is bounded by serde_json's own
//! recursion limit (128), which applies here since its deserializer drives this visitor.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a well-formed JSON text is not I-JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// RFC 7493 §2.3.
    DuplicateName,
    /// RFC 7493 §2.1: U+FDD0 to U+FDEF, and U+xFFFE and U+xFFFF in every plane.
    Noncharacter,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Violation::DuplicateName => {
                "the request body is not I-JSON: a member name appears twice in one object"
            }
            Violation::Noncharacter => {
                "the request body is not I-JSON: a string holds a Unicode noncharacter"
            }
        })
    }
}

/// A body that could not be read: not JSON at all, or JSON but not I-JSON.
#[derive(Debug)]
pub enum Error {
    Json(serde_json::Error),
    NotIJson(Violation),
}

/// Parses `body` as one I-JSON value.
pub fn from_slice(body: &[u8]) -> Result<Value, Error> {
    let found = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Strict { found: &found }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match (parsed, found.get()) {
        (_, Some(violation)) => Err(Error::NotIJson(violation)),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(Error::Json(e)),
    }
}

/// Builds a [`Value`] as serde_json's own visitor does, noting the first violation in
/// `found` (and stopping there with an error).
#[derive(Clone, Copy)]
struct Strict<'a> {
    found: &'a Cell<Option<Violation>>,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(self, violation: Violation) -> E {
        self.found.set(Some(violation));
        E::custom(violation)
    }

    fn string<E: de::Error>(self, s: String) -> Result<String, E> {
        if s.chars().any(is_noncharacter) {
            return Err(self.refuse(Violation::Noncharacter));
        }
        Ok(s)
    }
}

fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's own visitor: parsing never yields a non-finite number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.string(v.to_owned()).map(Value::String)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.string(v).map(Value::String)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let name = self.string(name)?;
            if members.contains_key(&name) {
                return Err(self.refuse(Violation::DuplicateName));
            }
            let value = map.next_value_seed(self)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn violation(body: &str) -> Option<Violation> {
        match from_slice(body.as_bytes()) {
            Err(Error::NotIJson(v)) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn a_repeated_name_is_refused_at_any_depth() {
        for body in [
            r#"{"username":"a","username":"b"}"#,
            r#"{"a":1,"b":2,"a":1}"#,
            r#"{"outer":{"x":1,"x":2}}"#,
            r#"{"list":[{"x":1},{"y":1,"y":2}]}"#,
            r#"[{"x":1,"x":1}]"#,
            r#"{"a":{"b":{"c":{"d":[[{"e":1,"e":1}]]}}}}"#,
        ] {
            assert_eq!(violation(body), Some(Violation::DuplicateName), "{body}");
        }
    }

    #[test]
    fn names_are_compared_after_their_escapes() {
        for body in [
            r#"{"a":1,"\u0061":2}"#,
            r#"{"pass\u0077ord":"x","password":"y"}"#,
            r#"{"\ud83d\ude00":1,"😀":2}"#,
            r#"{"a\/b":1,"a/b":2}"#,
        ] {
            assert_eq!(violation(body), Some(Violation::DuplicateName), "{body}");
        }
        // Different code points are different names, even when they look alike (é as
        // one code point, then as e + combining acute).
        assert!(from_slice("{\"\u{e9}\":1,\"e\u{301}\":2}".as_bytes()).is_ok());
    }

    #[test]
    fn the_same_names_in_different_objects_are_fine() {
        let body = r#"{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}],"x":{"x":{"x":5}}}"#;
        let value = from_slice(body.as_bytes()).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(body).unwrap());
        let body = json!({"s": "é\"\\", "n": [1, -2, 2.5, 1e300, null, true, false, {}]});
        let value = from_slice(body.to_string().as_bytes()).unwrap();
        assert_eq!(value, body);
    }

    #[test]
    fn noncharacters_are_refused_in_names_and_strings() {
        for body in [
            r#"{"a":"\uffff"}"#,
            r#"{"\ufdd0":1}"#,
            "{\"a\":[\"\u{10fffe}\"]}",
            r#"{"a":"\ud83f\udffe"}"#,
        ] {
            assert_eq!(violation(body), Some(Violation::Noncharacter), "{body}");
        }
        assert!(from_slice(r#"{"a":"\ufffd\ufdcf\ufdf0"}"#.as_bytes()).is_ok());
    }

    #[test]
    fn what_serde_json_already_refuses_stays_refused() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for body in [
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00x"}"#,
            r#"{"a":1e400}"#,
            r#"{"a":1} {"b":2}"#,
            r#"{"a":1,}"#,
            deep.as_str(),
        ] {
            assert!(
                matches!(from_slice(body.as_bytes()), Err(Error::Json(_))),
                "{body}"
            );
        }
        // Bytes that are not UTF-8.
        assert!(matches!(
            from_slice(b"{\"a\":\"\xff\"}"),
            Err(Error::Json(_))
        ));
        // 127 levels nest fine.
        let nested = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(from_slice(nested.as_bytes()).is_ok());
    }
}
