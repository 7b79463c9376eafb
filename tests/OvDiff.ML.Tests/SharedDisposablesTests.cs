using System.Collections.Concurrent;

namespace OvDiff.ML.Tests;

public sealed class SharedDisposablesTests
{
    [Fact]
    public void Acquire_CreationFailedOnce_NextAcquireCreatesAgain()
    {
        var shared = new SharedDisposables<Probe>();
        int attempts = 0;
        Probe Create() => ++attempts == 1 ? throw new IOException("model file busy") : new Probe();

        Assert.Throws<IOException>(() => shared.Acquire("k", Create));
        Assert.Equal(0, shared.Count);
        Assert.Equal(1, shared.Acquire("k", Create).Read());
        Assert.Equal(2, attempts);
    }

    [Fact]
    public void Release_LastOwner_DisposesAndNextAcquireCreatesFresh()
    {
        var shared = new SharedDisposables<Probe>();
        var created = new List<Probe>();
        Probe Create()
        {
            var probe = new Probe();
            created.Add(probe);
            return probe;
        }

        Probe first = shared.Acquire("k", Create);
        Assert.Same(first, shared.Acquire("k", Create));
        shared.Release("k");
        Assert.False(first.IsDisposed);
        shared.Release("k");
        Assert.True(first.IsDisposed);
        Assert.Equal(0, shared.Count);

        Assert.Equal(1, shared.Acquire("k", Create).Read());
        Assert.Equal(2, created.Count);
        Assert.False(created[1].IsDisposed);
    }

    [Fact]
    public async Task Acquire_RacingWithOwnersComingAndGoing_NeverReturnsADisposedValue()
    {
        var shared = new SharedDisposables<Probe>();
        var created = new ConcurrentQueue<Probe>();
        Probe Create()
        {
            var probe = new Probe();
            created.Enqueue(probe);
            return probe;
        }

        // Fixed amounts of work, not a time budget: on a busy machine one task may not be scheduled within a second.
        const int CyclesPerOwner = 3000;
        long reads = 0, disposedReads = 0;
        Task[] owners = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < CyclesPerOwner; i++)
            {
                Probe probe = shared.Acquire("k", Create);
                try
                {
                    Interlocked.Add(ref reads, probe.Read());
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref disposedReads);
                }

                shared.Release("k");
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        await Task.WhenAll(owners);

        Assert.Equal(0, Interlocked.Read(ref disposedReads));
        Assert.Equal(3 * CyclesPerOwner, Interlocked.Read(ref reads));
        Assert.Equal(0, shared.Count);
        Assert.All(created, p => Assert.True(p.IsDisposed));
    }

    private sealed class Probe : IDisposable
    {
        public bool IsDisposed { get; private set; }

        public int Read()
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return 1;
        }

        public void Dispose() => IsDisposed = true;
    }
}
