//! The network an EKS cluster gives its load balancers, made in moto.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

/// Creates a VPC (10.0.0.0/16) with two subnets in `us-east-1a` and `us-east-1b`, tagged
/// `kubernetes.io/role/elb` and `kubernetes.io/role/internal-elb` so subnet discovery finds
/// them for either scheme, and returns the VPC id.
///
/// # Panics
/// When EC2 (moto) refuses a call: a test cannot go on without its network.
pub async fn load_balancer_subnets(ec2: &aws_sdk_ec2::Client) -> String {
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.expect("CreateVpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("a VPC id").to_owned();
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Subnet)
            .tags(Tag::builder().key("kubernetes.io/role/elb").value("1").build())
            .tags(Tag::builder().key("kubernetes.io/role/internal-elb").value("1").build())
            .build();
        ec2.create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(*zone)
            .tag_specifications(tags)
            .send()
            .await
            .expect("CreateSubnet");
    }
    vpc
}
