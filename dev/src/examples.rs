//! The ready-to-paste requests `make dev` prints, signed with the demo tenant's Twilio token.

use stopgate::providers::twilio;

const PERSON: &str = "+14155550123";
const BUSINESS: &str = "+14155550100";

fn form(body: &str, sid: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.append_pair("MessageSid", sid)
        .append_pair("AccountSid", "ACdemo00000000000000000000000000")
        .append_pair("From", PERSON)
        .append_pair("To", BUSINESS)
        .append_pair("Body", body);
    out.finish()
}

fn webhook_curl(base: &str, token: &str, text: &str, sid: &str) -> String {
    let url = format!("{base}/v1/webhooks/twilio/demo");
    let body = form(text, sid);
    let signature = twilio::sign(token, &url, body.as_bytes());
    format!(
        "curl -s -X POST '{url}' -H 'Content-Type: application/x-www-form-urlencoded' -H 'X-Twilio-Signature: {signature}' --data '{body}'; echo"
    )
}

fn check_curl(base: &str, key: &str, category: &str) -> String {
    format!(
        "curl -s -X POST '{base}/v1/check' -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' --data '{{\"from\": \"{BUSINESS}\", \"to\": \"{PERSON}\", \"category\": \"{category}\"}}'; echo"
    )
}

pub fn print(base: &str) {
    let key = std::env::var("STOPGATE_DEMO_KEY")
        .unwrap_or_else(|_| "<STOPGATE_DEMO_KEY from .stopgate/dev.env>".into());
    let token = std::env::var("STOPGATE_DEMO_TWILIO_AUTH_TOKEN").unwrap_or_default();
    let sid = |n: u32| format!("SM{:08x}{:024x}", n, rand_suffix());
    println!(
        "\n# The demo tenant is `demo`; its environment is in .stopgate/dev.env (source it for the CLI)."
    );
    println!(
        "\n# 1. May the business text {PERSON} a conversational message? (no: nothing on record)"
    );
    println!("{}", check_curl(base, &key, "conversational"));
    println!("\n# 2. The person writes in; a reply is now conversational and allowed");
    println!(
        "{}",
        webhook_curl(base, &token, "Hi, is my order ready?", &sid(1))
    );
    println!("{}", check_curl(base, &key, "conversational"));
    println!(
        "\n# 3. The person texts STOP (signed as Twilio signs it): the check denies (opted_out)"
    );
    println!("{}", webhook_curl(base, &token, "STOP", &sid(2)));
    println!("{}", check_curl(base, &key, "conversational"));
    println!("\n# 4. START within 2 minutes of the STOP leaves the number opted out");
    println!("{}", webhook_curl(base, &token, "START", &sid(3)));
    println!("{}", check_curl(base, &key, "conversational"));
    println!(
        "\n# 4b. Two minutes after the STOP, another START (a new message): the check allows again"
    );
    println!("{}", webhook_curl(base, &token, "START", &sid(6)));
    println!("{}", check_curl(base, &key, "conversational"));
    println!("\n# 5. HELP, and a forged signature (401, quarantined, nothing recorded)");
    println!("{}", webhook_curl(base, &token, "HELP", &sid(4)));
    println!(
        "curl -s -X POST '{base}/v1/webhooks/twilio/demo' -H 'X-Twilio-Signature: Zm9yZ2VkIHNpZ25hdHVyZQ==' --data '{}'; echo",
        form("START", &sid(5))
    );
    println!(
        "\n# 6. The hosted form: open {base}/p/demo/join, sign up {PERSON}, then confirm with the YES\n#    (the promotional check answers no_consent until then, consent after, within quiet hours)"
    );
    println!("{}", webhook_curl(base, &token, "YES", &sid(7)));
    println!("{}", check_curl(base, &key, "promotional"));
    println!(
        "# The preference page, through a link texted to the number: target/debug/stopgate link demo {PERSON} --sent-by-sms"
    );
    println!(
        "\n# 7. Export the opt-out list: the gateway runs the export and prints where its files are"
    );
    println!(
        "curl -s -X POST '{base}/v1/exports' -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' --data '{{\"kind\": \"full\"}}'; echo"
    );
    println!("curl -s '{base}/v1/exports' -H 'Authorization: Bearer {key}'; echo");
    println!(
        "\n# 8. Notifications: a hook (here the gateway's own receiver, which prints what it gets),\n#    then a STOP: its signed CloudEvent arrives within a few seconds; the delivery log after"
    );
    println!(
        "curl -s -X POST '{base}/v1/hooks' -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' --data '{{\"url\": \"{base}{}\", \"events\": [\"opt_out\", \"opt_in\"]}}'; echo",
        stopgate_dev::RECEIVER_PATH
    );
    println!("{}", webhook_curl(base, &token, "STOP", &sid(8)));
    println!("curl -s '{base}/v1/hooks' -H 'Authorization: Bearer {key}'; echo");
    println!(
        "# then: curl -s '{base}/v1/hooks/<hook_id>/deliveries' -H 'Authorization: Bearer {key}'; echo"
    );
    println!("\n# Pasting a webhook command twice is a redelivery: one event, the same reply.\n");
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
