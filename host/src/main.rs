fn main() -> std::process::ExitCode {
    promwasm::cli::main()
}
