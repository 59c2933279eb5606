//! `worker`: a child program for SMACH tests.
//!
//! Takes its start argument `n`, counts the primes below
//! `2000 + (n mod 65536)` without any system call, prints
//! `worker <n>: <result>` and exits with status `result mod 200` (the
//! formula and a table of values are in this package's library docs,
//! [`sk_user_worker`]). Its only system calls are the console writes of
//! that line (`println!` writes each formatted piece separately) and the
//! exit.
#![no_std]
#![no_main]

use sk_user::println;

sk_user::entry!(main);

fn main() -> i32 {
    let n = sk_user::start_arg();
    let result = sk_user_worker::result(n);
    println!("worker {n}: {result}");
    sk_user_worker::status(n)
}
