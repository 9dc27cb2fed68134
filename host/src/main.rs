// Seeding and JSON handling allocate and free millions of small objects across
// threads; mimalloc does that markedly faster than glibc's malloc (see the
// seed_throughput bench, which uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    promwasm::cli::main()
}
