#[test]
fn scratch() {
    let text = std::fs::read_to_string("/tmp/sched/t.json").unwrap();
    match stagehand::schedule::parse_task(&text) { Ok(t) => println!("{}", t.to_json_string()), Err(e) => println!("{e}") }
}
