//! The IAM policy one cluster's controller needs, generated here so `albatross iam-policy` and
//! the committed `manifests/iam-policy.json` (the output for [`EXAMPLE_CLUSTER`]) come from one
//! source. Every change is conditioned on the cluster tag's value, so the role can touch only
//! what this cluster made: a load balancer, target group or security group carries
//! `elbv2.k8s.aws/cluster = <name>`, and so do the listeners and rules we create (ELBv2 checks a
//! listener's or rule's own tags, or for `CreateListener` the load balancer's and for
//! `CreateRule` the listener's). Tags are set at creation only with this cluster's value; on
//! existing resources the cluster tag key may not be written at all, and `RemoveTags` is not
//! granted (the code never calls it).

use albatross_model::plan::naming::CLUSTER_TAG;
use serde_json::{Value, json};

/// The cluster name of the committed example (`manifests/iam-policy.json`, the chart's values).
pub const EXAMPLE_CLUSTER: &str = "my-cluster";

/// Reads: no resource-level permissions exist for most of them.
const READ: &[&str] = &[
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "elasticloadbalancing:DescribeCapacityReservation",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTrustStores",
    "shield:DescribeProtection",
    "tag:GetResources",
    "wafv2:GetWebACLForResource",
    "wafv2:ListWebACLs",
];

/// Creates whose request must tag the new resource with this cluster's name.
const CREATE: &[&str] = &[
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "shield:CreateProtection",
    // Tags on create of CreateProtection.
    "shield:TagResource",
];

/// Changes to resources that carry this cluster's tag: the resource named in the call (for
/// `CreateListener` its load balancer, for `CreateRule` its listener).
const CHANGE_OWNED: &[&str] = &[
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "shield:DeleteProtection",
    // What wafv2:AssociateWebACL and DisassociateWebACL need on the load balancer itself.
    "elasticloadbalancing:SetWebAcl",
];

/// ELBv2 creates that tag on create (each also authorizes `AddTags`).
const TAG_ON_CREATE: &[&str] = &["CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"];

/// The policy for the controller of cluster `cluster` (a valid tag value).
pub fn policy(cluster: &str) -> Value {
    let resource_tag = format!("aws:ResourceTag/{CLUSTER_TAG}");
    let request_tag = format!("aws:RequestTag/{CLUSTER_TAG}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "Read", "Effect": "Allow", "Action": READ, "Resource": "*" },
            {
                "Sid": "CreateTaggedForThisCluster",
                "Effect": "Allow",
                "Action": CREATE,
                "Resource": "*",
                "Condition": { "StringEquals": { &request_tag: cluster } }
            },
            {
                // EC2 checks the new group and the VPC apart: only the group carries request tags.
                "Sid": "CreateSecurityGroupTaggedForThisCluster",
                "Effect": "Allow",
                "Action": ["ec2:CreateSecurityGroup"],
                "Resource": "arn:aws:ec2:*:*:security-group/*",
                "Condition": { "StringEquals": { &request_tag: cluster } }
            },
            {
                "Sid": "CreateSecurityGroupInAnyVpc",
                "Effect": "Allow",
                "Action": ["ec2:CreateSecurityGroup"],
                "Resource": "arn:aws:ec2:*:*:vpc/*"
            },
            {
                "Sid": "TagSecurityGroupOnCreate",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": "arn:aws:ec2:*:*:security-group/*",
                "Condition": {
                    "StringEquals": { "ec2:CreateAction": "CreateSecurityGroup", &request_tag: cluster }
                }
            },
            {
                // The configuration's tags on a managed group of ours; never the cluster tag.
                "Sid": "TagOwnedSecurityGroupExceptTheClusterTag",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": "arn:aws:ec2:*:*:security-group/*",
                "Condition": {
                    "StringEquals": { &resource_tag: cluster },
                    "ForAllValues:StringNotEquals": { "aws:TagKeys": [CLUSTER_TAG] }
                }
            },
            {
                "Sid": "TagOnCreate",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": { "elasticloadbalancing:CreateAction": TAG_ON_CREATE, &request_tag: cluster }
                }
            },
            {
                // Our own resources' other tags (user tags, the attributes checkpoint); the
                // cluster tag of an existing resource is never written.
                "Sid": "TagOwnedExceptTheClusterTag",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": { &resource_tag: cluster },
                    "ForAllValues:StringNotEquals": { "aws:TagKeys": [CLUSTER_TAG] }
                }
            },
            {
                "Sid": "ChangeOnlyThisClustersResources",
                "Effect": "Allow",
                "Action": CHANGE_OWNED,
                "Resource": "*",
                "Condition": { "StringEquals": { &resource_tag: cluster } }
            },
            {
                // The web ACL side of an association; the load balancer side is SetWebAcl,
                // granted above on this cluster's load balancers only.
                "Sid": "WebAclSideOfAnAssociation",
                "Effect": "Allow",
                "Action": ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"],
                "Resource": "*"
            },
            {
                "Sid": "FirstLoadBalancerInTheAccount",
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                "Resource": "*",
                "Condition": { "StringEquals": { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } }
            }
        ]
    })
}

/// The policy as printed and committed: pretty JSON and a final newline.
pub fn policy_text(cluster: &str) -> String {
    let mut text = serde_json::to_string_pretty(&policy(cluster)).expect("a JSON value serializes");
    text.push('\n');
    text
}
