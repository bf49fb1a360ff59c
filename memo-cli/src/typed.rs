//! JSON arguments as the function's key would hold them: a JSON value
//! walked along the function's [`Shape`] and serialized through the
//! library's own key encoder (`memo_core::key::entry_key_for`), so
//! `memo clear f --args '[42]'` names the entry `f(42)` wrote, whatever the
//! integer's width.

use memo_core::admin::{Field, Payload, Shape};
use serde::ser::{Error as _, SerializeMap, SerializeSeq, SerializeStruct, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// The key of `namespace` for `args` (JSON), given the key's shape and the
/// names of its parts.
pub(crate) fn entry_key(
    namespace: &str,
    shape: &Shape,
    names: &[String],
    args: &Value,
) -> Result<String, String> {
    let args = arrange(shape, names, args)?;
    memo_core::key::entry_key_for(
        namespace,
        &Typed {
            shape,
            value: &args,
        },
    )
    .map_err(|e| e.0)
}

/// The arguments as the key's tuple: a JSON array in order, an object by
/// part names (`{"domain": "a", "user.id": 7}`), or, for a key of one part,
/// that part alone.
fn arrange(shape: &Shape, names: &[String], args: &Value) -> Result<Value, String> {
    let Shape::Tuple(parts) = shape else {
        return Ok(args.clone());
    };
    match args {
        Value::Array(items) if items.len() == parts.len() => Ok(args.clone()),
        Value::Array(items) if parts.len() != 1 => Err(format!(
            "expected {} arguments ({}), got {}",
            parts.len(),
            names.join(", "),
            items.len()
        )),
        Value::Object(fields)
            if names.len() == parts.len() && names.iter().all(|n| fields.contains_key(n)) =>
        {
            if let Some(extra) = fields.keys().find(|k| !names.contains(k)) {
                return Err(format!(
                    "no argument `{extra}`; the key is made of: {}",
                    names.join(", ")
                ));
            }
            Ok(Value::Array(
                names.iter().map(|n| fields[n].clone()).collect(),
            ))
        }
        Value::Object(_) if parts.len() != 1 => Err(format!(
            "expected an array or an object of: {}",
            names.join(", ")
        )),
        // One part: the value itself.
        single => Ok(Value::Array(vec![single.clone()])),
    }
}

/// A JSON value that serializes as a value of `shape` would.
struct Typed<'a> {
    shape: &'a Shape,
    value: &'a Value,
}

fn typed<'a>(shape: &'a Shape, value: &'a Value) -> Typed<'a> {
    Typed { shape, value }
}

fn mismatch<E: serde::ser::Error>(expected: &str, value: &Value) -> E {
    E::custom(format!("expected {expected}, got {value}"))
}

fn unknown<E: serde::ser::Error>(what: &str) -> E {
    E::custom(format!(
        "the key's {what} is not known yet: the call the function was described from did not show it"
    ))
}

macro_rules! integer {
    ($serializer:ident, $value:expr, $method:ident, $ty:ty, $name:literal) => {{
        let value = $value;
        let n = value
            .as_i64()
            .map(i128::from)
            .or_else(|| value.as_u64().map(i128::from))
            .or_else(|| value.as_str().and_then(|s| s.parse::<i128>().ok()))
            .ok_or_else(|| mismatch($name, value))?;
        let n =
            <$ty>::try_from(n).map_err(|_| mismatch(concat!("a ", $name, " in range"), value))?;
        $serializer.$method(n)
    }};
}

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.value;
        match self.shape {
            Shape::Bool => serializer.serialize_bool(
                value
                    .as_bool()
                    .ok_or_else(|| mismatch("a boolean", value))?,
            ),
            Shape::I8 => integer!(serializer, value, serialize_i8, i8, "i8"),
            Shape::I16 => integer!(serializer, value, serialize_i16, i16, "i16"),
            Shape::I32 => integer!(serializer, value, serialize_i32, i32, "i32"),
            Shape::I64 => integer!(serializer, value, serialize_i64, i64, "i64"),
            Shape::I128 => integer!(serializer, value, serialize_i128, i128, "i128"),
            Shape::U8 => integer!(serializer, value, serialize_u8, u8, "u8"),
            Shape::U16 => integer!(serializer, value, serialize_u16, u16, "u16"),
            Shape::U32 => integer!(serializer, value, serialize_u32, u32, "u32"),
            Shape::U64 => integer!(serializer, value, serialize_u64, u64, "u64"),
            Shape::U128 => {
                let n = value
                    .as_u64()
                    .map(u128::from)
                    .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| mismatch("u128", value))?;
                serializer.serialize_u128(n)
            }
            Shape::F32 => serializer
                .serialize_f32(value.as_f64().ok_or_else(|| mismatch("a number", value))? as f32),
            Shape::F64 => {
                serializer.serialize_f64(value.as_f64().ok_or_else(|| mismatch("a number", value))?)
            }
            Shape::Char => {
                let s = value
                    .as_str()
                    .ok_or_else(|| mismatch("a one-character string", value))?;
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => serializer.serialize_char(c),
                    _ => Err(mismatch("a one-character string", value)),
                }
            }
            Shape::Str => {
                serializer.serialize_str(value.as_str().ok_or_else(|| mismatch("a string", value))?)
            }
            Shape::Bytes => {
                let bytes = value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                            .collect::<Option<Vec<u8>>>()
                    })
                    .ok_or_else(|| mismatch("an array of bytes", value))?;
                serializer.serialize_bytes(&bytes)
            }
            Shape::Unit => match value {
                Value::Null => serializer.serialize_unit(),
                _ => Err(mismatch("null", value)),
            },
            Shape::Option(inner) => match (value, inner) {
                (Value::Null, _) => serializer.serialize_none(),
                (_, Some(inner)) => serializer.serialize_some(&typed(inner, value)),
                (_, None) => Err(unknown("`Option` type (only `None` was seen)")),
            },
            Shape::Seq { element, sized } => {
                let items = value
                    .as_array()
                    .ok_or_else(|| mismatch("an array", value))?;
                if !items.is_empty() && element.is_none() {
                    return Err(unknown("sequence's element type (it was empty)"));
                }
                let mut seq = serializer.serialize_seq(sized.then_some(items.len()))?;
                for item in items {
                    seq.serialize_element(&typed(
                        element.as_deref().unwrap_or(&Shape::Unit),
                        item,
                    ))?;
                }
                seq.end()
            }
            Shape::Set(element) => {
                let items = value
                    .as_array()
                    .ok_or_else(|| mismatch("an array", value))?;
                if !items.is_empty() && element.is_none() {
                    return Err(unknown("set's element type (it was empty)"));
                }
                let element = element.as_deref().unwrap_or(&Shape::Unit);
                // Through a `HashSet`, which the key encoder tells by its
                // type and writes sorted, as it wrote the function's set.
                let set: std::collections::HashSet<Member<'_>> = items
                    .iter()
                    .map(|value| Member(typed(element, value)))
                    .collect();
                serializer.collect_seq(&set)
            }
            Shape::Map(entries) => {
                let pairs: Vec<(Value, &Value)> = match value {
                    Value::Object(fields) => fields
                        .iter()
                        .map(|(k, v)| (Value::String(k.clone()), v))
                        .collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|pair| match pair.as_array().map(Vec::as_slice) {
                            Some([k, v]) => Ok((k.clone(), v)),
                            _ => Err(mismatch::<S::Error>("[key, value] pairs", pair)),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(mismatch(
                            "an object or an array of [key, value] pairs",
                            value,
                        ))
                    }
                };
                if !pairs.is_empty() && entries.is_none() {
                    return Err(unknown("map's key and value types (it was empty)"));
                }
                let mut map = serializer.serialize_map(Some(pairs.len()))?;
                if let Some(entries) = entries {
                    let (key_shape, value_shape) = &**entries;
                    for (k, v) in &pairs {
                        // An object's keys are strings: read a number key
                        // from its digits.
                        let k = match (key_shape, k) {
                            (Shape::Str | Shape::Char, _) | (_, Value::Number(_)) => k.clone(),
                            (_, Value::String(s)) => {
                                serde_json::from_str(s).unwrap_or_else(|_| k.clone())
                            }
                            _ => k.clone(),
                        };
                        map.serialize_entry(&typed(key_shape, &k), &typed(value_shape, v))?;
                    }
                }
                map.end()
            }
            Shape::Tuple(parts) => {
                let items = value.as_array().filter(|items| items.len() == parts.len());
                let items = items
                    .ok_or_else(|| mismatch(&format!("an array of {}", parts.len()), value))?;
                let mut tuple = serializer.serialize_tuple(parts.len())?;
                for (part, item) in parts.iter().zip(items) {
                    tuple.serialize_element(&typed(part, item))?;
                }
                tuple.end()
            }
            Shape::Struct(fields) => serialize_fields(serializer, fields, value),
            Shape::Enum(variants) => {
                let (name, payload) = match value {
                    Value::String(name) => (name.as_str(), None),
                    Value::Object(one) if one.len() == 1 => {
                        let (name, payload) = one.iter().next().expect("one entry");
                        (name.as_str(), Some(payload))
                    }
                    _ => return Err(mismatch("\"Variant\" or {\"Variant\": value}", value)),
                };
                let variant = variants.iter().find(|v| v.name == name).ok_or_else(|| {
                    S::Error::custom(format!(
                        "variant `{name}` is not known (seen: {})",
                        variants
                            .iter()
                            .map(|v| v.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                match (&variant.payload, payload) {
                    (Payload::Unit, None | Some(Value::Null)) => {
                        serializer.serialize_unit_variant("", variant.index, "")
                    }
                    (Payload::Newtype(inner), Some(payload)) => serializer
                        .serialize_newtype_variant("", variant.index, "", &typed(inner, payload)),
                    (Payload::Tuple(parts), Some(payload)) => {
                        use serde::ser::SerializeTupleVariant;
                        let items = payload
                            .as_array()
                            .filter(|items| items.len() == parts.len());
                        let items = items.ok_or_else(|| {
                            mismatch(&format!("an array of {}", parts.len()), payload)
                        })?;
                        let mut tuple = serializer.serialize_tuple_variant(
                            "",
                            variant.index,
                            "",
                            parts.len(),
                        )?;
                        for (part, item) in parts.iter().zip(items) {
                            tuple.serialize_field(&typed(part, item))?;
                        }
                        tuple.end()
                    }
                    (Payload::Struct(fields), Some(payload)) => {
                        use serde::ser::SerializeStructVariant;
                        let object = payload
                            .as_object()
                            .ok_or_else(|| mismatch("an object", payload))?;
                        let mut out = serializer.serialize_struct_variant(
                            "",
                            variant.index,
                            "",
                            fields.len(),
                        )?;
                        for field in fields {
                            match (object.get(&field.name), &field.shape) {
                                (None, _) => out.skip_field("")?,
                                (Some(v), Some(shape)) => {
                                    out.serialize_field("", &typed(shape, v))?
                                }
                                (Some(_), None) => {
                                    return Err(unknown(&format!("field `{}`'s type", field.name)))
                                }
                            }
                        }
                        out.end()
                    }
                    _ => Err(mismatch(&format!("the payload of variant `{name}`"), value)),
                }
            }
            _ => Err(S::Error::custom(
                "a part of the key this version of memo does not know",
            )),
        }
    }
}

/// An element of a hashed set: equal as JSON values are.
struct Member<'a>(Typed<'a>);

impl PartialEq for Member<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.value == other.0.value
    }
}

impl Eq for Member<'_> {}

impl std::hash::Hash for Member<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.value.to_string().hash(state);
    }
}

impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A struct's fields in the shape's order; a field the JSON leaves out is
/// skipped, as `skip_serializing_if` would.
fn serialize_fields<S: Serializer>(
    serializer: S,
    fields: &[Field],
    value: &Value,
) -> Result<S::Ok, S::Error> {
    let object = value
        .as_object()
        .ok_or_else(|| mismatch("an object", value))?;
    if let Some(extra) = object
        .keys()
        .find(|k| !fields.iter().any(|f| &f.name == *k))
    {
        return Err(S::Error::custom(format!("no field `{extra}`")));
    }
    let mut out = serializer.serialize_struct("", fields.len())?;
    for field in fields {
        match (object.get(&field.name), &field.shape) {
            (None, _) => out.skip_field("")?,
            (Some(v), Some(shape)) => out.serialize_field("", &typed(shape, v))?,
            (Some(_), None) => {
                return Err(unknown(&format!(
                    "field `{}`'s type (it was skipped)",
                    field.name
                )))
            }
        }
    }
    out.end()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use memo_core::admin::Shape;
    use serde_json::json;

    use super::entry_key;

    #[derive(serde::Serialize)]
    struct User {
        id: u64,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        team: Option<u16>,
    }

    #[derive(serde::Serialize)]
    enum Scope {
        All,
        Team(u32),
        Range { from: i8, to: i8 },
    }

    /// The key JSON gives is the key the library makes of the typed values.
    fn same(args: &(impl serde::Serialize + ?Sized), names: &[&str], json: serde_json::Value) {
        let shape = Shape::of(args).unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let expected = memo_core::key::entry_key_for("ns", args).unwrap();
        assert_eq!(
            entry_key("ns", &shape, &names, &json).unwrap(),
            expected,
            "{json}"
        );
    }

    #[test]
    fn json_arguments_encode_as_the_typed_ones() {
        same(
            &(&"example.org", &7u32),
            &["domain", "id"],
            json!(["example.org", 7]),
        );
        same(
            &(&"example.org", &7u32),
            &["domain", "id"],
            json!({"id": 7, "domain": "example.org"}),
        );
        same(&(&-3i16,), &["x"], json!(-3));
        same(&(&u128::MAX,), &["x"], json!(u128::MAX.to_string()));
        let user = User {
            id: 9,
            name: "ada".into(),
            team: None,
        };
        same(&(&user,), &["user"], json!({"id": 9, "name": "ada"}));
        let map: BTreeMap<u32, String> = [(2, "b".into()), (1, "a".into())].into();
        same(&(&map,), &["m"], json!({"1": "a", "2": "b"}));
        same(
            &(&Some(vec![1.5f64]), &'x', &true),
            &["a", "b", "c"],
            json!([[1.5], "x", true]),
        );
        same(&(&Scope::Team(4),), &["s"], json!({"Team": 4}));
        same(
            &(&Scope::Range { from: -1, to: 1 },),
            &["s"],
            json!({"Range": {"from": -1, "to": 1}}),
        );
        same(&(&Scope::All,), &["s"], json!("All"));
        let set: std::collections::HashSet<u16> = [3, 1, 2, 300].into();
        same(&(&set, &7u8), &["s", "x"], json!([[2, 300, 3, 1], 7]));
    }

    #[test]
    fn wrong_or_unknown_arguments_are_errors() {
        let shape = Shape::of(&(&7u8, &None::<u32>)).unwrap();
        let names = ["a".to_owned(), "b".to_owned()];
        let error = |json| entry_key("ns", &shape, &names, &json).unwrap_err();
        assert!(error(json!([300, null])).contains("u8 in range"));
        assert!(error(json!([1])).contains("expected 2 arguments"));
        assert!(error(json!([1, 5])).contains("not known yet"));
    }
}
