//! The README's feature table says what each GatewayClass of ours lists in
//! `status.supportedFeatures`.

use albatross_model::Flavor;
use albatross_model::plan::features;

#[test]
fn readme_feature_table_matches_the_supported_features_of_each_class() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("<!-- features:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- features:end -->").next())
        .expect("README has a feature table between the features markers");
    let mut alb = Vec::new();
    let mut nlb = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`').to_owned();
        for (cell, list) in [(cells[1], &mut alb), (cells[2], &mut nlb)] {
            match cell {
                "yes" => list.push(name.clone()),
                "no" => {}
                other => panic!("feature table cell {other:?} for {name}: yes or no"),
            }
        }
    }
    let names = |f: Flavor| features::supported(f).iter().map(|f| f.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(alb, names(Flavor::Alb), "ALB column");
    assert_eq!(nlb, names(Flavor::Nlb), "NLB column");
}
