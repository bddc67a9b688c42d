//! `embedgate-dev demo` (run by `cargo xtask demo`): the live demo stack of
//! [`embedgate_devtools::demo`] in a temporary directory, until Ctrl-C.
//! Each line typed in its terminal (Enter) prints a freshly signed example
//! URL, since the printed one expires.

use std::io::BufRead as _;

use anyhow::Context as _;
use embedgate_devtools::demo::{instructions, DemoStack};

pub fn run() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "embedgate-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let stack = DemoStack::start(&dir).await?;
        let token = instructions::admin_token(&stack)?;
        print!("{}", instructions::banner(&stack, &token)?);
        drop(token);
        let mut lines = stdin_lines();
        let shutdown = embedgate::serve::shutdown::signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(()) = lines.recv() => match instructions::example(&stack) {
                    Ok(text) => print!("\nA fresh example URL, {text}"),
                    Err(e) => eprintln!("cannot sign an example URL: {e:#}"),
                },
            }
        }
        println!("\nstopping the demo…");
        stack.stop().await
    });
    let removed = std::fs::remove_dir_all(&dir);
    result?;
    removed.with_context(|| format!("cannot remove {}", dir.display()))?;
    println!("demo stopped; removed {}", dir.display());
    Ok(())
}

/// One message per line read from stdin; the channel closes at end of
/// input (stdin not a terminal, or closed), and the demo just goes on.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() || tx.blocking_send(()).is_err() {
                return;
            }
        }
    });
    rx
}
