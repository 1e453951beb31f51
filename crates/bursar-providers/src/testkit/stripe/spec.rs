//! The OpenAPI spec the fake validates requests and answers against.

use super::*;

#[derive(Debug)]
pub(super) struct SpecError {
    pub(super) message: String,
    pub(super) param: Option<String>,
}

/// An OpenAPI description of the Stripe API (the extract or the full file).
pub(super) struct Spec {
    pub(super) doc: Value,
}

impl Spec {
    pub(super) fn new(doc: Value) -> Spec {
        Spec { doc }
    }

    pub(super) fn version(&self) -> String {
        self.doc["info"]["version"].as_str().unwrap_or_default().to_string()
    }

    pub(super) fn schema(&self, name: &str) -> Option<&Value> {
        self.doc["components"]["schemas"].get(name)
    }

    pub(super) fn resolve<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.schema(r.strip_prefix("#/components/schemas/")?).and_then(|s| self.resolve(s)),
            None => Some(schema),
        }
    }

    /// The path template and operation matching a concrete path; literal
    /// segments win over `{param}` ones.
    pub(super) fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, String, &Value)> = None;
        for (template, ops) in self.doc["paths"].as_object()? {
            let Some(op) = ops.get(method.to_ascii_lowercase()) else { continue };
            let t: Vec<&str> = template.split('/').collect();
            if t.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let matches = t.iter().zip(&segments).all(|(a, b)| {
                if a.starts_with('{') {
                    !b.is_empty()
                } else {
                    literal += 1;
                    a == b
                }
            });
            if matches && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, template.clone(), op));
            }
        }
        best.map(|(_, t, op)| (t, op))
    }

    pub(super) fn check_request(&self, method: &str, path: &str, params: &[(String, String)]) -> Vec<SpecError> {
        let Some((_, op)) = self.operation(method, path) else {
            return vec![SpecError { message: format!("Unrecognized request URL ({method}: {path})"), param: None }];
        };
        let tree = match Node::parse(params) {
            Ok(t) => t,
            Err(e) => return vec![SpecError { message: e, param: None }],
        };
        let mut errs = Vec::new();
        if method == "POST" {
            let schema = &op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
            if schema.is_null() {
                if !params.is_empty() {
                    errs.push(SpecError { message: "This operation takes no parameters".into(), param: None });
                }
            } else {
                self.check_node(schema, &tree, "", &mut errs);
            }
        } else {
            let query: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|a| a.iter().filter(|p| p["in"] == "query").collect())
                .unwrap_or_default();
            if let Node::Map(m) = &tree {
                for (k, n) in m {
                    match query.iter().find(|p| p["name"] == k.as_str()) {
                        Some(p) => self.check_node(&p["schema"], n, k, &mut errs),
                        None => errs.push(SpecError {
                            message: format!("Received unknown parameter: {k}"),
                            param: Some(k.clone()),
                        }),
                    }
                }
                for p in query.iter().filter(|p| p["required"] == true) {
                    let name = p["name"].as_str().unwrap_or_default();
                    if !m.contains_key(name) {
                        errs.push(SpecError {
                            message: format!("Missing required param: {name}."),
                            param: Some(name.to_string()),
                        });
                    }
                }
            }
        }
        errs
    }

    pub(super) fn check_node(&self, schema: &Value, node: &Node, path: &str, errs: &mut Vec<SpecError>) {
        let Some(schema) = self.resolve(schema) else { return };
        let err = |message: String| SpecError { message, param: Some(path.to_string()) };
        if let Some(alts) = schema.get("anyOf").and_then(Value::as_array) {
            let mut first_errs = None;
            for alt in alts {
                let mut e = Vec::new();
                self.check_node(alt, node, path, &mut e);
                if e.is_empty() {
                    return;
                }
                first_errs.get_or_insert(e);
            }
            errs.push(err(format!(
                "Invalid value for {path}: {}",
                first_errs.and_then(|e| e.into_iter().next()).map(|e| e.message).unwrap_or_default()
            )));
            return;
        }
        let ty = schema.get("type").and_then(Value::as_str);
        match node {
            Node::Leaf(s) => {
                if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                    if !values.iter().any(|v| v.as_str() == Some(s.as_str()) || v.to_string().as_str() == s) {
                        let list: Vec<String> =
                            values.iter().map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string())).collect();
                        errs.push(err(format!("Invalid {path}: must be one of {}", list.join(", "))));
                    }
                    return;
                }
                match ty {
                    Some("string") => {
                        let max = schema.get("maxLength").and_then(Value::as_u64).unwrap_or(u64::MAX);
                        if s.chars().count() as u64 > max {
                            errs.push(err(format!("Invalid {path}: must be at most {max} characters")));
                        }
                    }
                    Some("integer") if s.parse::<i64>().is_err() => errs.push(err(format!("Invalid integer: {s}"))),
                    Some("number") if s.parse::<f64>().is_err() => errs.push(err(format!("Invalid decimal: {s}"))),
                    Some("boolean") if s != "true" && s != "false" => errs.push(err(format!("Invalid boolean: {s}"))),
                    Some("object") | Some("array") => {
                        errs.push(err(format!("Invalid {ty_}: {path} must be a {ty_}", ty_ = ty.unwrap_or_default())))
                    }
                    _ => {}
                }
            }
            Node::List(_) | Node::Map(_) if ty == Some("array") => {
                if let Node::Map(m) = node {
                    if m.keys().any(|k| k.parse::<usize>().is_err()) {
                        errs.push(err(format!("Invalid array: {path}")));
                        return;
                    }
                }
                for (i, item) in node.items().into_iter().enumerate() {
                    self.check_node(&schema["items"], item, &format!("{path}[{i}]"), errs);
                }
            }
            Node::Map(m) if ty == Some("object") || schema.get("properties").is_some() => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (k, n) in m {
                    let child = if path.is_empty() { k.clone() } else { format!("{path}[{k}]") };
                    match (props.and_then(|p| p.get(k)), additional) {
                        (Some(s), _) => self.check_node(s, n, &child, errs),
                        (None, Some(a)) if a.is_object() => self.check_node(a, n, &child, errs),
                        (None, _) if props.is_none() && additional.is_none() => {}
                        (None, _) => errs.push(SpecError {
                            message: format!("Received unknown parameter: {child}"),
                            param: Some(child.clone()),
                        }),
                    }
                }
                for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                    let r = r.as_str().unwrap_or_default();
                    if !m.contains_key(r) {
                        let child = if path.is_empty() { r.to_string() } else { format!("{path}[{r}]") };
                        errs.push(SpecError {
                            message: format!("Missing required param: {child}."),
                            param: Some(child.clone()),
                        });
                    }
                }
            }
            _ => errs.push(err(format!(
                "Invalid {}: {path}",
                match node {
                    Node::List(_) => "array",
                    _ => "hash",
                }
            ))),
        }
    }

    pub(super) fn check_response(&self, method: &str, path: &str, body: &Value) -> Vec<String> {
        let Some((_, op)) = self.operation(method, path) else { return vec![format!("no operation for {path}")] };
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let mut errs = Vec::new();
        self.check_value(schema, body, "", &mut errs);
        errs
    }

    pub(super) fn check_object(&self, name: &str, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        match self.schema(name) {
            Some(s) => self.check_value(s, value, "", &mut errs),
            None => errs.push(format!("no schema `{name}`")),
        }
        errs
    }

    /// Checks a JSON value against a response schema: required properties,
    /// no unknown properties, types, enums, nullability. References outside
    /// the loaded document are not checked.
    pub(super) fn check_value(&self, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let Some(schema) = self.resolve(schema) else { return };
        if v.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                errs.push(format!("{path}: null but not nullable"));
            }
            return;
        }
        if let Some(alts) = schema.get("anyOf").and_then(Value::as_array) {
            let mut first = None;
            for alt in alts {
                let mut e = Vec::new();
                self.check_value(alt, v, path, &mut e);
                if e.is_empty() {
                    return;
                }
                first.get_or_insert(e);
            }
            errs.extend(first.unwrap_or_default());
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !values.contains(v) {
                errs.push(format!("{path}: {v} is not one of {values:?}"));
            }
            return;
        }
        let ok = match schema.get("type").and_then(Value::as_str) {
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            Some("array") => {
                if let Some(items) = v.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(&schema["items"], item, &format!("{path}[{i}]"), errs);
                    }
                    true
                } else {
                    false
                }
            }
            Some("object") | None if schema.get("properties").is_some() || schema.get("type").is_some() => {
                if let Some(obj) = v.as_object() {
                    let props = schema.get("properties").and_then(Value::as_object);
                    for (k, val) in obj {
                        let child = format!("{path}.{k}");
                        match props.and_then(|p| p.get(k)) {
                            Some(s) => self.check_value(s, val, &child, errs),
                            None => match schema.get("additionalProperties") {
                                Some(a) if a.is_object() => self.check_value(a, val, &child, errs),
                                _ if props.is_some() => errs.push(format!("{child}: not in the schema")),
                                _ => {}
                            },
                        }
                    }
                    for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                        let r = r.as_str().unwrap_or_default();
                        if !obj.contains_key(r) {
                            errs.push(format!("{path}.{r}: required but missing"));
                        }
                    }
                    true
                } else {
                    false
                }
            }
            _ => true,
        };
        if !ok {
            errs.push(format!("{path}: {v} does not have type {}", schema.get("type").unwrap_or(&Value::Null)));
        }
    }
}
