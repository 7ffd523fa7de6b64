//! The CEL cost budget of one object, with the API server's limits and messages.
//!
//! kube-apiserver counts the actual cost of each rule as cel-go runs it: a rule over its
//! per-call limit is cancelled, and once the rules of one object have spent the whole budget no
//! further rule runs. The cel interpreter we use cannot count or stop mid-rule, so each rule is
//! costed *before* it runs, from its syntax tree and the actual sizes of the values it reads
//! (lists, maps, strings under `self` and `oldSelf`): an upper bound of what it will do, in
//! cel-go's units (one per node and per loop step, a tenth per character traversed).

use kube_cel::cel::common::ast::operators as op;
use kube_cel::cel::common::ast::{EntryExpr, Expr, LiteralValue};
use kube_cel::cel::parser::Expression;
use serde_json::Value;

/// `PerCallLimit` of kube-apiserver: the most one rule may cost.
pub const PER_CALL_LIMIT: u64 = 1_000_000;
/// `RuntimeCELCostBudget` of kube-apiserver: the most all rules of one object may cost.
pub const OBJECT_BUDGET: u64 = 10_000_000;

/// What is left of an object's budget.
#[derive(Debug)]
pub struct Budget {
    remaining: u64,
}

/// Why a rule did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The rule alone costs more than `PER_CALL_LIMIT`.
    CallLimit,
    /// The object's budget is spent; no further rule runs.
    Exhausted,
}

impl Default for Budget {
    fn default() -> Self {
        Self { remaining: OBJECT_BUDGET }
    }
}

impl Budget {
    pub fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// Charges `cost` if it fits, leaving the budget as it was if not (for what may be skipped).
    pub fn afford(&mut self, cost: u64) -> bool {
        let fits = cost <= self.remaining.min(PER_CALL_LIMIT);
        if fits {
            self.remaining -= cost;
        }
        fits
    }

    /// Charges `cost` for one rule, or says why it must not run. A rule over the per-call
    /// limit is cancelled by the API server once it has spent the limit, so the limit is charged.
    pub fn charge(&mut self, cost: u64) -> Result<(), Refusal> {
        let spent = cost.min(PER_CALL_LIMIT);
        if spent > self.remaining {
            self.remaining = 0;
            return Err(Refusal::Exhausted);
        }
        self.remaining -= spent;
        if cost > PER_CALL_LIMIT { Err(Refusal::CallLimit) } else { Ok(()) }
    }
}

/// What the estimate knows of a value.
#[derive(Clone, Debug)]
enum Shape<'a> {
    /// This very JSON value.
    One(&'a Value),
    /// One of these (a loop variable over known elements).
    AnyOf(Vec<&'a Value>),
    /// Computed by the rule; its length is at most this.
    Sized(u64),
}

fn len_of(value: &Value) -> u64 {
    match value {
        Value::Array(items) => items.len() as u64,
        Value::Object(map) => map.len() as u64,
        Value::String(s) => s.len() as u64,
        _ => 1,
    }
}

impl<'a> Shape<'a> {
    fn len(&self) -> u64 {
        match self {
            Shape::One(v) => len_of(v),
            Shape::AnyOf(vs) => vs.iter().map(|v| len_of(v)).max().unwrap_or(0),
            Shape::Sized(n) => *n,
        }
    }

    /// What a loop over this value binds its variable to.
    fn elements(&self) -> Shape<'a> {
        let values: &[&'a Value] = match self {
            Shape::One(v) => std::slice::from_ref(v),
            Shape::AnyOf(vs) => vs,
            Shape::Sized(n) => return Shape::Sized(*n),
        };
        if values.iter().all(|v| v.is_array()) {
            Shape::AnyOf(values.iter().filter_map(|v| v.as_array()).flatten().collect())
        } else {
            // Map keys (strings) or something the loop will refuse.
            let longest = values.iter().filter_map(|v| v.as_object()).flat_map(|m| m.keys()).map(String::len).max();
            Shape::Sized(longest.unwrap_or(0) as u64)
        }
    }

    fn field(&self, name: &str) -> Shape<'a> {
        let pick = |v: &'a Value| v.as_object().and_then(|m| m.get(name).or_else(|| m.get(&unescape(name))));
        match self {
            Shape::One(v) => pick(v).map_or(Shape::Sized(0), Shape::One),
            Shape::AnyOf(vs) => Shape::AnyOf(vs.iter().filter_map(|v| pick(v)).collect()),
            Shape::Sized(n) => Shape::Sized(*n),
        }
    }

    /// `x[i]`: any element or value, whatever the index.
    fn any_member(&self) -> Shape<'a> {
        let values: &[&'a Value] = match self {
            Shape::One(v) => std::slice::from_ref(v),
            Shape::AnyOf(vs) => vs,
            Shape::Sized(n) => return Shape::Sized(*n),
        };
        Shape::AnyOf(
            values
                .iter()
                .flat_map(|v| -> Box<dyn Iterator<Item = &'a Value>> {
                    match v {
                        Value::Array(items) => Box::new(items.iter()),
                        Value::Object(map) => Box::new(map.values()),
                        _ => Box::new(std::iter::empty()),
                    }
                })
                .collect(),
        )
    }
}

/// Field names as the API server escapes them for CEL, back to JSON keys.
fn unescape(name: &str) -> String {
    if let Some(inner) = name.strip_prefix("__").and_then(|n| n.strip_suffix("__"))
        && !inner.contains("__")
    {
        return inner.to_owned();
    }
    name.replace("__dot__", ".").replace("__dash__", "-").replace("__slash__", "/").replace("__", "_")
}

/// A tenth per character or element traversed, as cel-go charges string functions.
fn traversal(len: u64) -> u64 {
    len.div_ceil(10)
}

struct Estimate<'v> {
    scope: Vec<(String, Shape<'v>)>,
}

impl<'v> Estimate<'v> {
    fn lookup(&self, name: &str) -> Shape<'v> {
        self.scope.iter().rev().find(|(n, _)| n == name).map_or(Shape::Sized(1), |(_, s)| s.clone())
    }

    /// (cost, shape of the result) of `expr`.
    fn of(&mut self, expr: &Expression) -> (u64, Shape<'v>) {
        match &expr.expr {
            Expr::Ident(name) => (1, self.lookup(name)),
            Expr::Literal(LiteralValue::String(s)) => (0, Shape::Sized(s.inner().len() as u64)),
            Expr::Literal(LiteralValue::Bytes(b)) => (0, Shape::Sized(b.inner().len() as u64)),
            Expr::Literal(_) | Expr::Unspecified => (0, Shape::Sized(1)),
            Expr::Select(select) => {
                let (cost, shape) = self.of(&select.operand);
                let shape = if select.test { Shape::Sized(1) } else { shape.field(&select.field) };
                (cost.saturating_add(1), shape)
            }
            Expr::List(list) => {
                let cost = list.elements.iter().fold(1u64, |c, e| c.saturating_add(self.of(e).0));
                (cost, Shape::Sized(list.elements.len() as u64))
            }
            Expr::Map(map) => {
                let mut cost = 1u64;
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(e) = &entry.expr {
                        cost = cost.saturating_add(self.of(&e.key).0).saturating_add(self.of(&e.value).0);
                    }
                }
                (cost, Shape::Sized(map.entries.len() as u64))
            }
            Expr::Struct(s) => {
                let mut cost = 1u64;
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        cost = cost.saturating_add(self.of(&f.value).0);
                    }
                }
                (cost, Shape::Sized(s.entries.len() as u64))
            }
            Expr::Comprehension(c) => {
                let (range_cost, range) = self.of(&c.iter_range);
                let steps = range.len();
                let (init_cost, init) = self.of(&c.accu_init);
                // map() and filter() grow the accumulator to at most one entry per step.
                let accu = Shape::Sized(steps.max(init.len()));
                self.scope.push((c.iter_var.clone(), range.elements()));
                self.scope.push((c.accu_var.clone(), accu));
                let step_cost = self.of(&c.loop_cond).0.saturating_add(self.of(&c.loop_step).0).saturating_add(1);
                let (result_cost, result) = self.of(&c.result);
                self.scope.truncate(self.scope.len() - 2);
                let cost = range_cost
                    .saturating_add(init_cost)
                    .saturating_add(steps.saturating_mul(step_cost))
                    .saturating_add(result_cost);
                (cost, result)
            }
            Expr::Call(call) => {
                let mut cost = 1u64;
                let mut shapes = Vec::with_capacity(call.args.len() + 1);
                for e in call.target.iter().map(AsRef::as_ref).chain(&call.args) {
                    let (c, s) = self.of(e);
                    cost = cost.saturating_add(c);
                    shapes.push(s);
                }
                let lens: Vec<u64> = shapes.iter().map(Shape::len).collect();
                let total = lens.iter().fold(0u64, |a, l| a.saturating_add(*l));
                let longest = lens.iter().copied().max().unwrap_or(0);
                let shape = match call.func_name.as_str() {
                    op::INDEX | op::OPT_INDEX | op::OPT_SELECT => {
                        shapes.first().map_or(Shape::Sized(0), Shape::any_member)
                    }
                    op::ADD => Shape::Sized(total),
                    "size"
                    | op::EQUALS
                    | op::NOT_EQUALS
                    | op::LESS
                    | op::LESS_EQUALS
                    | op::GREATER
                    | op::GREATER_EQUALS
                    | op::IN
                    | op::LOGICAL_AND
                    | op::LOGICAL_OR
                    | op::LOGICAL_NOT
                    | op::NOT_STRICTLY_FALSE => Shape::Sized(1),
                    op::CONDITIONAL => Shape::Sized(lens.iter().skip(1).copied().max().unwrap_or(0)),
                    _ => Shape::Sized(longest),
                };
                // `in` compares against every element; other calls traverse their strings or lists.
                let work = match call.func_name.as_str() {
                    op::IN => lens.last().copied().unwrap_or(0),
                    "size"
                    | op::LOGICAL_AND
                    | op::LOGICAL_OR
                    | op::LOGICAL_NOT
                    | op::CONDITIONAL
                    | op::INDEX
                    | op::OPT_INDEX
                    | op::OPT_SELECT
                    | op::NOT_STRICTLY_FALSE => 0,
                    _ => traversal(total),
                };
                (cost.saturating_add(work), shape)
            }
        }
    }
}

/// Upper bound of what running `expr` costs with `self` (and `oldSelf`) bound to these values.
pub fn estimate(expr: &Expression, this: &Value, old: Option<&Value>) -> u64 {
    let mut scope = vec![("self".to_owned(), Shape::One(this))];
    scope.push(("oldSelf".to_owned(), old.map_or(Shape::Sized(0), Shape::One)));
    Estimate { scope }.of(expr).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_cel::cel::Program;
    use serde_json::json;

    fn cost(rule: &str, this: &Value) -> u64 {
        estimate(Program::compile(rule).unwrap().expression(), this, None)
    }

    #[test]
    fn nested_loops_over_self_cost_the_square_of_its_length() {
        let small = json!((0..10).map(|i| json!({"name": i.to_string()})).collect::<Vec<_>>());
        let large = json!((0..3000).map(|i| json!({"name": i.to_string()})).collect::<Vec<_>>());
        let rule = "self.all(a, self.exists_one(b, a.name == b.name))";
        assert!(cost(rule, &small) < 2_000, "{}", cost(rule, &small));
        assert!(cost(rule, &large) > PER_CALL_LIMIT, "{}", cost(rule, &large));
    }

    #[test]
    fn a_loop_over_a_field_counts_that_field_not_the_whole_object() {
        let object = json!({"small": [1, 2, 3], "big": vec![0; 10_000]});
        assert!(cost("self.small.all(x, x > 0)", &object) < 50);
        assert!(cost("self.big.all(x, x > 0)", &object) >= 10_000);
    }

    #[test]
    fn string_functions_cost_a_tenth_per_character() {
        let object = json!({"s": "a".repeat(100_000)});
        let c = cost("self.s.contains('b')", &object);
        assert!((10_000..10_100).contains(&c), "{c}");
    }

    #[test]
    fn the_budget_refuses_one_rule_over_the_call_limit_and_everything_once_spent() {
        let mut budget = Budget::default();
        assert_eq!(budget.charge(PER_CALL_LIMIT + 1), Err(Refusal::CallLimit));
        for _ in 0..9 {
            assert_eq!(budget.charge(PER_CALL_LIMIT), Ok(()));
        }
        assert_eq!(budget.charge(1), Err(Refusal::Exhausted));
        assert!(budget.exhausted());
    }

    #[test]
    fn escaped_field_names_find_their_json_keys() {
        assert_eq!(unescape("__namespace__"), "namespace");
        assert_eq!(unescape("a__dash__b__dot__c"), "a-b.c");
        assert_eq!(unescape("x__y"), "x_y");
    }
}
