//! `edgeseal keygen`: print a fresh key, as the secret's JSON or as base64.

use zeroize::Zeroizing;

use crate::args::{KeyFormat, KeygenArgs};
use crate::error::{CliError, OK};
use crate::keys;
use crate::output::Output;

pub fn run(args: &KeygenArgs, out: &Output) -> Result<u8, CliError> {
    let key = keys::generate()?;
    // keygen exists to print a key; nothing else in this CLI does.
    match args.format {
        KeyFormat::Secret => {
            // The secret JSON is the JSON output too: printed from its zeroizing buffer,
            // never copied into a serde_json value.
            out.text(&edgeseal::edgeseal_secret_json(&key));
        }
        KeyFormat::Base64 if out.json() => {
            let encoded = key.to_base64();
            let mut line = Zeroizing::new(String::with_capacity(encoded.len() + 10));
            line.push_str("{\"key\":\"");
            line.push_str(&encoded);
            line.push_str("\"}");
            out.text(&line);
        }
        KeyFormat::Base64 => out.text(&key.to_base64()),
    }
    Ok(OK)
}
