using System.Collections.Concurrent;

namespace OvDiff.ML.Tests;

public sealed class SharedDisposablesTests
{
    [Fact]
    public void Use_CreationFailedOnce_NextUseCreatesAgain()
    {
        var shared = new SharedDisposables<Probe>();
        int attempts = 0;
        Probe Create() => ++attempts == 1 ? throw new IOException("model file busy") : new Probe();

        Assert.Throws<IOException>(() => shared.Use("k", Create, p => p.Read()));
        Assert.Equal(1, shared.Use("k", Create, p => p.Read()));
        Assert.Equal(2, attempts);
    }

    [Fact]
    public void Release_LastOwner_DisposesAndNextUseCreatesFresh()
    {
        var shared = new SharedDisposables<Probe>();
        var created = new List<Probe>();
        Probe Create()
        {
            var probe = new Probe();
            created.Add(probe);
            return probe;
        }

        shared.Acquire("k", Create);
        shared.Acquire("k", Create);
        shared.Release("k");
        Assert.False(created[0].IsDisposed);
        shared.Release("k");
        Assert.True(created[0].IsDisposed);

        Assert.Equal(1, shared.Use("k", Create, p => p.Read()));
        Assert.Equal(2, created.Count);
        Assert.False(created[1].IsDisposed);
    }

    [Fact]
    public async Task Use_RacingWithOwnersComingAndGoing_NeverSeesADisposedValue()
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
        const int OwnerCycles = 5000, UsesPerUser = 2000;
        long uses = 0, disposedUses = 0;
        int ownersDone = 0;
        Task owners = Task.Run(() =>
        {
            for (int i = 0; i < OwnerCycles; i++)
            {
                shared.Acquire("k", Create);
                shared.Release("k");
            }

            Volatile.Write(ref ownersDone, 1);
        }, TestContext.Current.CancellationToken);
        Task[] users = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            // Until the owners are done, and at least UsesPerUser times.
            for (int i = 0; i < UsesPerUser || Volatile.Read(ref ownersDone) == 0; i++)
            {
                try
                {
                    Interlocked.Add(ref uses, shared.Use("k", Create, p => p.Read()));
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref disposedUses);
                }
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        await Task.WhenAll([owners, .. users]);

        Assert.Equal(0, Interlocked.Read(ref disposedUses));
        Assert.True(Interlocked.Read(ref uses) >= 3 * UsesPerUser, "the users did not all run");
        // Each owner cycle disposed the value it released, under the users' feet; fresh ones were created after.
        Assert.True(created.Count(p => p.IsDisposed) >= OwnerCycles, "the owners did not dispose a value per cycle");
    }

    private sealed class Probe : IDisposable
    {
        private bool _disposed;

        public bool IsDisposed => Volatile.Read(ref _disposed);

        public int Read()
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return 1;
        }

        public void Dispose() => Volatile.Write(ref _disposed, true);
    }
}
