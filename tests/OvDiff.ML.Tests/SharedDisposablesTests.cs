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
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        CancellationToken token = stop.Token;
        Task owners = Task.Run(() =>
        {
            while (!token.IsCancellationRequested)
            {
                shared.Acquire("k", () => new Probe());
                shared.Release("k");
            }
        }, TestContext.Current.CancellationToken);
        Task[] users = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            while (!token.IsCancellationRequested)
            {
                shared.Use("k", () => new Probe(), p => p.Read());
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        await Task.WhenAll([owners, .. users]);
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
