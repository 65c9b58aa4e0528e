fn main() -> std::process::ExitCode {
    cloudstrap::cli::main()
}
