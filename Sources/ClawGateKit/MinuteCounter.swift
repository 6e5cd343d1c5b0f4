/// Counts per second over the last minute: which provider actually served a route's requests.
struct MinuteCounter: Sendable {
    private var counts = [Int](repeating: 0, count: 60)
    private var seconds = [Int](repeating: -1, count: 60)

    mutating func add(now: Double, _ amount: Int = 1) {
        let second = Int(now.rounded(.down))
        let index = ((second % 60) + 60) % 60
        if seconds[index] != second {
            seconds[index] = second
            counts[index] = 0
        }
        counts[index] += amount
    }

    /// Seconds until the oldest count in the window drops out (at least 1).
    func secondsUntilOldestLeaves(now: Double) -> Int {
        let second = Int(now.rounded(.down))
        let oldest = (0..<60).filter { seconds[$0] > second - 60 && seconds[$0] <= second && counts[$0] > 0 }.map { seconds[$0] }.min() ?? second
        return max(1, oldest + 60 - second)
    }

    func total(now: Double) -> Int {
        let second = Int(now.rounded(.down))
        var sum = 0
        for i in 0..<60 where seconds[i] > second - 60 && seconds[i] <= second { sum += counts[i] }
        return sum
    }
}
