//! Tag-filtered EC2 `DescribeSecurityGroups` without moto's quadratic scan.
//!
//! AWS answers `DescribeSecurityGroups` with a `tag:KEY` or `tag-key` filter from an index.
//! moto 5.2.5 checks each tag filter against every security group by reading that group's tags
//! with `TagBackend.describe_tags(resource-id=…)`, a scan of every EC2 tag it holds (twice per
//! filter and group): one such call costs groups x tags, and a fleet's first converge, which
//! makes one or two per Gateway, grows with the cube of the fleet (86 to 98 % of moto's time at
//! 766 Gateways, BENCHMARKS.md).
//!
//! The index is moto's own tag store, read once per request: for one of the request's narrowing
//! filters the proxy asks moto `DescribeTags` (unrecorded, the request's own `Authorization`)
//! for the security-group tags (`resource-id` `sg-*`) with the filter's key (and values, when
//! plain), one scan of the tags, and takes the groups that can match that filter:
//! - `tag:KEY`: groups with a tag whose key is exactly `KEY` and, when no value holds a
//!   wildcard (`*`, `?`, `[`, `\`), whose value is one of the values (moto compares a plain
//!   value by equality); with a wildcard, any value.
//! - `tag-key` whose values hold no wildcard: groups with one of those keys.
//!
//! (A key holding `[` or `\` is not passed to `DescribeTags`, whose key filter is a glob.) Which
//! filter: the one that admitted the fewest groups when it was last read (never read counts as
//! none; ties go to the first): moto serializes every tag row it answers, so asking for the
//! cluster tag shared by the whole fleet would cost as much as the scan it replaces. That
//! choice affects the cost, never the answer. The candidates are a superset of the groups the
//! request matches. The request then goes to moto with one more filter, `group-id` = the
//! candidates, placed first (moto checks
//! filters in order and stops at the first that fails, so every other group costs one regex),
//! and **all the original filters and parameters**: moto applies them all to the candidates, so
//! the answer is moto's own (same groups, same order, same members), only cheaper. No candidate:
//! the proxy answers an empty `securityGroupInfo` itself (moto's empty answer, its shape).
//!
//! Always correct for groups and tags that did not pass through the proxy (tests that seed moto
//! directly): the groups are read from moto for every request; only the counts that choose the
//! filter are remembered. moto keeps the tags of a deleted group, so
//! candidates may name deleted groups; a `group-id` filter (unlike `GroupId.N`) does not fail on
//! them. Forwarded unchanged (moto scans as before): requests with `GroupId.N` or `GroupName.N`
//! (moto narrows by them first), a `group-id` filter of their own, two filters of one name (moto
//! keeps the last), `DryRun`, no narrowing filter, more than [`MAX_CANDIDATES`] candidates (the answer is then large and moto checks each
//! candidate's tags anyway; also without asking, when every filter admitted more when last read),
//! or a `DescribeTags` moto did not answer 200.
//!
//! The two reads and every EC2 mutating call through the proxy are serialized
//! ([`Narrower::lock`]), so a group tagged between them by a caller of the proxy cannot be missed.

use std::collections::{BTreeMap, BTreeSet};

use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode};

use super::protocol::{Form, Identity, service, xml_escape};
use super::rules::Verdict;
use super::{Shared, Upstream};

/// The action this module narrows.
pub(crate) const ACTION: &str = "DescribeSecurityGroups";

const EC2_VERSION: &str = "2016-11-15";

/// Above this many candidates the request goes to moto unchanged.
pub(crate) const MAX_CANDIDATES: usize = 20;

/// Serializes the two reads of a lookup with the EC2 mutations passing through the proxy, and
/// remembers how many groups each narrowing admitted when last read.
#[derive(Debug, Default)]
pub(crate) struct Narrower {
    lock: tokio::sync::Mutex<()>,
    admitted: std::sync::Mutex<BTreeMap<String, usize>>,
}

impl Narrower {
    /// Held while a lookup reads moto or an EC2 mutating call is forwarded.
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    fn admitted(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, usize>> {
        self.admitted.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The narrowing to read: the one that admitted the fewest groups last time (0 if never read).
    fn choose<'a>(&self, narrowings: &'a [Narrowing]) -> Option<(&'a Narrowing, usize)> {
        let admitted = self.admitted();
        let last = |n: &Narrowing| admitted.get(&n.id()).copied().unwrap_or(0);
        narrowings.iter().map(|n| (n, last(n))).min_by_key(|(_, size)| *size)
    }
}

/// What to do with a `DescribeSecurityGroups`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// No group can match: answer this body (empty `securityGroupInfo`).
    Empty(String),
    /// Send this form body to moto instead.
    Narrowed(String),
}

/// One `Filter.N` of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Filter {
    name: String,
    values: Vec<String>,
}

/// Form parameters, in order.
type Params = Vec<(String, String)>;

/// The request's parameters other than filters, and its filters in index order; `None` when
/// the request is not one this module narrows.
fn parse(form: &Form) -> Option<(Params, Vec<Filter>)> {
    let mut rest = Vec::new();
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    let mut values: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
    for (key, value) in form.iter() {
        if key.starts_with("GroupId.") || key.starts_with("GroupName.") || key == "DryRun" {
            return None;
        }
        let Some(member) = key.strip_prefix("Filter.") else {
            rest.push((key.to_owned(), value.to_owned()));
            continue;
        };
        let (index, field) = member.split_once('.')?;
        let index: u32 = index.parse().ok()?;
        match field.split_once('.') {
            None if field == "Name" => {
                names.insert(index, value.to_owned());
            }
            Some(("Value", n)) => {
                values.entry(index).or_default().insert(n.parse().ok()?, value.to_owned());
            }
            _ => return None,
        }
    }
    if values.keys().any(|i| !names.contains_key(i)) {
        return None;
    }
    let filters = names
        .into_iter()
        .map(|(i, name)| Filter { name, values: values.remove(&i).unwrap_or_default().into_values().collect() })
        .collect();
    Some((rest, filters))
}

/// A value moto matches by plain equality (its glob has no special character).
fn plain(value: &str) -> bool {
    !value.contains(['*', '?', '[', '\\'])
}

/// What one filter says about candidate tag rows: the key to ask `DescribeTags` for and which
/// rows make a group a candidate.
#[derive(Debug, PartialEq, Eq)]
struct Narrowing {
    keys: BTreeSet<String>,
    /// `None`: any value.
    values: Option<BTreeSet<String>>,
}

impl Narrowing {
    /// Names the narrowing in [`Narrower`]'s memory.
    fn id(&self) -> String {
        format!("{:?} {:?}", self.keys, self.values)
    }

    fn of(filter: &Filter) -> Option<Narrowing> {
        if let Some(key) = filter.name.strip_prefix("tag:") {
            let values = filter.values.iter().all(|v| plain(v)).then(|| filter.values.iter().cloned().collect());
            return (!key.contains(['[', '\\'])).then(|| Narrowing { keys: BTreeSet::from([key.to_owned()]), values });
        }
        (filter.name == "tag-key" && filter.values.iter().all(|v| plain(v)))
            .then(|| Narrowing { keys: filter.values.iter().cloned().collect(), values: None })
    }

    fn admits(&self, row: &TagRow) -> bool {
        self.keys.contains(&row.key) && self.values.as_ref().is_none_or(|v| v.contains(&row.value))
    }
}

/// One `DescribeTags` item.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TagRow {
    resource: String,
    key: String,
    value: String,
}

/// The `DescribeTags` request body for the security-group tags the narrowing may admit.
fn describe_tags_body(narrowing: &Narrowing) -> String {
    let mut pairs: Vec<(String, &str)> = vec![
        ("Action".into(), "DescribeTags"),
        ("Version".into(), EC2_VERSION),
        ("Filter.1.Name".into(), "resource-id"),
        ("Filter.1.Value.1".into(), "sg-*"),
        ("Filter.2.Name".into(), "key"),
    ];
    pairs.extend(narrowing.keys.iter().enumerate().map(|(i, k)| (format!("Filter.2.Value.{}", i + 1), k.as_str())));
    if let Some(values) = &narrowing.values {
        pairs.push(("Filter.3.Name".into(), "value"));
        pairs.extend(values.iter().enumerate().map(|(i, v)| (format!("Filter.3.Value.{}", i + 1), v.as_str())));
    }
    Form::encode(pairs.iter().map(|(k, v)| (k.as_str(), *v)))
}

fn tag_rows(xml: &str) -> Option<Vec<TagRow>> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let child = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children().find(|c| c.has_tag_name(name)).map(|c| c.text().unwrap_or_default().to_owned())
    };
    let rows = doc
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .filter_map(|item| {
            Some(TagRow {
                resource: child(item, "resourceId")?,
                key: child(item, "key")?,
                value: child(item, "value")?,
            })
        })
        .collect();
    Some(rows)
}

/// The groups the narrowing admits, from the tag rows.
fn candidates(narrowing: &Narrowing, rows: &[TagRow]) -> BTreeSet<String> {
    rows.iter().filter(|r| narrowing.admits(r)).map(|r| r.resource.clone()).collect()
}

/// The request with `group-id` = `groups` as its first filter, everything else as sent.
fn narrowed_body(rest: &[(String, String)], filters: &[Filter], groups: &BTreeSet<String>) -> String {
    let mut pairs: Vec<(String, String)> = rest.to_vec();
    let first = Filter { name: "group-id".to_owned(), values: groups.iter().cloned().collect() };
    for (i, filter) in std::iter::once(&first).chain(filters).enumerate() {
        pairs.push((format!("Filter.{}.Name", i + 1), filter.name.clone()));
        for (j, value) in filter.values.iter().enumerate() {
            pairs.push((format!("Filter.{}.Value.{}", i + 1, j + 1), value.clone()));
        }
    }
    Form::encode(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// For the proxy's `handle`: the lock for an EC2 write or a `DescribeSecurityGroups` (held until
/// answered), and the verdict and body to go on with: a tag-filtered describe narrowed, or
/// answered empty; anything else as it came.
pub(crate) async fn narrow<'a>(
    shared: &'a Shared,
    identity: &Identity,
    form: Option<&Form>,
    headers: &HeaderMap,
    mutating: bool,
    verdict: Verdict,
    body: Bytes,
) -> (Option<tokio::sync::MutexGuard<'a, ()>>, Verdict, Bytes) {
    let ec2 = identity.service == service::EC2;
    let describe = ec2 && identity.action == ACTION;
    let guard = if (mutating && ec2) || describe { Some(shared.security_groups.lock().await) } else { None };
    let lookup = match (form, headers.get(AUTHORIZATION)) {
        (Some(form), Some(auth)) if describe && matches!(verdict, Verdict::Forward) => {
            lookup(&shared.upstream, &shared.security_groups, form, auth, &shared.request_id()).await
        }
        _ => None,
    };
    if lookup.is_some() {
        shared.state().narrowed_describes += 1;
    }
    match lookup {
        Some(Lookup::Empty(answer)) => (guard, Verdict::Respond { body: answer }, Bytes::new()),
        Some(Lookup::Narrowed(narrowed)) => (guard, verdict, Bytes::from(narrowed)),
        None => (guard, verdict, body),
    }
}

/// moto's answer to a `DescribeSecurityGroups` that matches nothing.
pub(crate) fn empty_answer(request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/{EC2_VERSION}\"><securityGroupInfo/><requestId>{}</requestId></DescribeSecurityGroupsResponse>",
        xml_escape(request_id)
    )
}

/// How to answer `form`; `None`: forward it unchanged. Call with [`Narrower::lock`] held until
/// the narrowed request is answered.
pub(crate) async fn lookup(
    upstream: &Upstream,
    narrower: &Narrower,
    form: &Form,
    auth: &HeaderValue,
    request_id: &str,
) -> Option<Lookup> {
    let (rest, filters) = parse(form)?;
    // moto keeps the last of filters sharing a name; a filter of our own would be one more.
    let names: BTreeSet<&str> = filters.iter().map(|f| f.name.as_str()).collect();
    if names.len() != filters.len() || names.contains("group-id") {
        return None;
    }
    let narrowings: Vec<Narrowing> = filters.iter().filter_map(Narrowing::of).collect();
    let (narrowing, last) = narrower.choose(&narrowings)?;
    if last > MAX_CANDIDATES {
        return None;
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    headers.insert(AUTHORIZATION, auth.clone());
    let body = Bytes::from(describe_tags_body(narrowing));
    let answer = upstream.forward(&Method::POST, &hyper::Uri::from_static("/"), &headers, body).await.ok()?;
    if answer.status != StatusCode::OK {
        return None;
    }
    let rows = tag_rows(&String::from_utf8_lossy(&answer.body))?;
    let groups = candidates(narrowing, &rows);
    narrower.admitted().insert(narrowing.id(), groups.len());
    match groups.len() {
        0 => Some(Lookup::Empty(empty_answer(request_id))),
        n if n > MAX_CANDIDATES => None,
        _ => Some(Lookup::Narrowed(narrowed_body(&rest, &filters, &groups))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    fn row(resource: &str, key: &str, value: &str) -> TagRow {
        TagRow { resource: resource.into(), key: key.into(), value: value.into() }
    }

    #[test]
    fn parses_filters_in_index_order_and_refuses_what_it_does_not_narrow() {
        let f = form(&[
            ("Action", "DescribeSecurityGroups"),
            ("Filter.2.Name", "vpc-id"),
            ("Filter.2.Value.1", "vpc-1"),
            ("Filter.1.Name", "tag:a"),
            ("Filter.1.Value.2", "y"),
            ("Filter.1.Value.1", "x"),
        ]);
        let (rest, filters) = parse(&f).unwrap();
        assert_eq!(rest, vec![("Action".to_owned(), "DescribeSecurityGroups".to_owned())]);
        assert_eq!(
            filters,
            vec![
                Filter { name: "tag:a".into(), values: vec!["x".into(), "y".into()] },
                Filter { name: "vpc-id".into(), values: vec!["vpc-1".into()] },
            ]
        );
        assert!(parse(&form(&[("GroupId.1", "sg-1"), ("Filter.1.Name", "tag:a")])).is_none());
        assert!(parse(&form(&[("GroupName.1", "n")])).is_none());
        assert!(parse(&form(&[("DryRun", "true")])).is_none());
        assert!(parse(&form(&[("Filter.1.Value.1", "x")])).is_none(), "a value without a name");
    }

    #[test]
    fn narrowings_follow_moto_matching() {
        let filter = |name: &str, values: &[&str]| Filter {
            name: name.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        let n = Narrowing::of(&filter("tag:k", &["a", "b"])).unwrap();
        assert!(n.admits(&row("sg-1", "k", "a")));
        assert!(!n.admits(&row("sg-1", "k", "c")));
        assert!(!n.admits(&row("sg-1", "K", "a")), "keys compare exactly");
        let any_value = Narrowing::of(&filter("tag:k", &["a*"])).unwrap();
        assert!(any_value.admits(&row("sg-1", "k", "zzz")), "a glob value narrows by key only");
        assert_eq!(Narrowing::of(&filter("tag:k[1]", &["a"])), None, "a glob key is not narrowed");
        let keys = Narrowing::of(&filter("tag-key", &["k", "l"])).unwrap();
        assert!(keys.admits(&row("sg-1", "l", "")));
        assert_eq!(Narrowing::of(&filter("tag-key", &["k*"])), None);
        assert_eq!(Narrowing::of(&filter("tag-value", &["a"])), None);
        assert_eq!(Narrowing::of(&filter("vpc-id", &["vpc-1"])), None);
    }

    #[test]
    fn reads_the_narrowing_that_admitted_fewest_groups_last_time() {
        let a = Narrowing { keys: BTreeSet::from(["a".to_owned()]), values: Some(BTreeSet::from(["1".to_owned()])) };
        let b = Narrowing { keys: BTreeSet::from(["b".to_owned()]), values: None };
        let rows = [row("sg-1", "a", "1"), row("sg-1", "b", "x"), row("sg-2", "a", "1"), row("sg-3", "a", "2")];
        assert_eq!(candidates(&a, &rows), BTreeSet::from(["sg-1".to_owned(), "sg-2".to_owned()]));
        assert_eq!(
            describe_tags_body(&a),
            "Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=sg-*\
             &Filter.2.Name=key&Filter.2.Value.1=a&Filter.3.Name=value&Filter.3.Value.1=1"
        );
        let narrower = Narrower::default();
        let both = [a, b];
        assert_eq!(narrower.choose(&both).map(|(n, size)| (n.id(), size)), Some((both[0].id(), 0)));
        narrower.admitted().insert(both[0].id(), 30);
        narrower.admitted().insert(both[1].id(), 2);
        assert_eq!(narrower.choose(&both).map(|(n, size)| (n.id(), size)), Some((both[1].id(), 2)));
        assert!(narrower.choose(&[]).is_none());
    }

    #[test]
    fn the_narrowed_request_keeps_every_filter_after_the_group_ids() {
        let rest = vec![("Action".to_owned(), "DescribeSecurityGroups".to_owned())];
        let filters = vec![Filter { name: "tag:a".into(), values: vec!["1".into()] }];
        let body = narrowed_body(&rest, &filters, &BTreeSet::from(["sg-1".to_owned(), "sg-2".to_owned()]));
        assert_eq!(
            body,
            "Action=DescribeSecurityGroups&Filter.1.Name=group-id&Filter.1.Value.1=sg-1&Filter.1.Value.2=sg-2\
             &Filter.2.Name=tag%3Aa&Filter.2.Value.1=1"
        );
    }

    #[test]
    fn reads_describe_tags_items() {
        let xml = r#"<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><tagSet><item><resourceId>sg-1</resourceId><resourceType>security-group</resourceType><key>a</key><value>1</value></item><item><resourceId>sg-2</resourceId><resourceType>security-group</resourceType><key>b</key><value/></item></tagSet></DescribeTagsResponse>"#;
        assert_eq!(tag_rows(xml).unwrap(), vec![row("sg-1", "a", "1"), row("sg-2", "b", "")]);
    }
}
