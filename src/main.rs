fn main() {
    std::process::exit(pullguard::cli::main());
}
