//! The lease elector against the fake Kubernetes API server: a renewal that hangs times out,
//! and the replica gives up leadership and AWS writes before another may take the lease.

use std::time::Duration;

use albatross_aws::WriteFence;
use albatross_reconciler::{Elector, LeaseSettings};
use albatross_test_support::kube_api::FakeApiServer;
use tokio::sync::watch;

#[tokio::test]
async fn hung_lease_renewal_times_out_and_closes_the_fence() {
    let api = FakeApiServer::start().await;
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let settings = LeaseSettings {
        namespace: "albatross-system".into(),
        name: "albatross-leader".into(),
        identity: "replica-a".into(),
        duration: Duration::from_secs(3),
    };
    let fence = WriteFence::default();
    let (elector, mut leadership) = Elector::new(client, settings, fence.clone());
    let (_stop, stopped) = watch::channel(false);
    tokio::spawn(elector.run(stopped));
    // Guards against a hang, never a measure: the elector's own timeouts decide.
    let guard = Duration::from_secs(60);
    assert!(tokio::time::timeout(guard, leadership.changed()).await.expect("acquired"));
    assert!(fence.is_open());

    // The API server stops answering lease writes: the renewal hangs.
    api.stall_requests("PUT", "/leases/albatross-leader", usize::MAX);
    let lost = tokio::time::timeout(guard, leadership.changed()).await;
    assert_eq!(lost, Ok(false), "the elector gave up the lease instead of hanging in its renewal");
    assert!(!fence.is_open(), "AWS writes are fenced");
    assert!(!leadership.is_leader());
}
