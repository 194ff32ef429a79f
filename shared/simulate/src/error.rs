/// What can go wrong building a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A data file or input the simulation reads is unusable.
    #[error("{0}")]
    Data(String),
}
