//! Failover in seconds: a new leader confirms each unchanged Gateway by its load balancer's
//! fingerprint, without reading listeners, rules, target groups or target health and without a
//! write; a Gateway whose plan changed is read and converged in full at once.

mod common;

use albatross_aws::census::FINGERPRINT_TAG;
use common::*;

/// Reads that only a full check of a stack makes.
const FULL_READS: [&str; 5] =
    ["DescribeListeners", "DescribeRules", "DescribeTargetGroups", "DescribeTargetHealth", "DescribeTags"];

fn full_reads(proxy: &Proxy) -> Vec<String> {
    proxy.calls().into_iter().map(|c| c.action).filter(|a| FULL_READS.contains(&a.as_str())).collect()
}

async fn fingerprint(aws: &Aws) -> Option<String> {
    let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let arn = lbs.load_balancers().first()?.load_balancer_arn()?.to_owned();
    let tags = aws.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
    let tags = tags.tag_descriptions().first()?.tags().to_vec();
    tags.iter().find(|t| t.key() == Some(FINGERPRINT_TAG)).and_then(|t| t.value().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_confirms_unchanged_gateways_without_reading_them_whole_and_checks_a_changed_one() {
    let c = cluster(world("All")).await;
    let address = eventually("Programmed with an address", || programmed_address(&c.api)).await;
    settled(&c).await;
    // Stamped once the stack and its targets converged.
    let stamped = eventually_async("the fingerprint written", || fingerprint(&c.aws)).await;

    // The leader goes; another replica takes the lease and starts from nothing but its caches.
    c._stop.send(true).unwrap();
    eventually("the old leader stepped down", || (!c.controller.leadership.is_leader()).then_some(())).await;
    c.proxy.clear_calls();
    let mutations_before = c.proxy.mutations();
    let (next, _stop_next) = replica(&c.api, &c.proxy, "replica-b", Duration::from_secs(3600)).await;
    eventually("the Gateway confirmed by its fingerprint", || (next.metrics.confirmed.get() >= 1).then_some(())).await;
    eventually("the new leader idle", || next.idle().then_some(())).await;
    assert_eq!(c.proxy.mutations(), mutations_before, "{:?}", c.proxy.mutating_calls());
    assert_eq!(full_reads(&c.proxy), Vec::<String>::new());
    assert_eq!(programmed_address(&c.api), Some(address));
    assert_eq!(fingerprint(&c.aws).await, Some(stamped.clone()));

    // A changed route changes the plan: the stack is read and converged at once, not at its slot.
    c.proxy.clear_calls();
    c.api.apply(route("r1", "/a-changed", "svc-a"));
    eventually("the rule changed", || (c.proxy.count("ModifyRule") == 1).then_some(())).await;
    eventually("the new leader idle", || next.idle().then_some(())).await;
    assert!(full_reads(&c.proxy).iter().any(|a| a == "DescribeRules"), "{:?}", c.proxy.calls());
    let after = eventually_async("a new fingerprint", || async {
        fingerprint(&c.aws).await.filter(|f| *f != stamped && f != albatross_aws::census::CHANGING)
    })
    .await;
    assert_ne!(after, stamped);
}
