using ModelBuild.Compression.RemoteCache;

namespace ModelBuild.Compression.Tests.RemoteCache;

/// <summary>Parsing ModelBuildRemoteCache / --remote-cache and the mode; the layout of names in the store.</summary>
public sealed class RemoteCacheSettingsTests
{
    [Fact]
    public void An_account_URL_with_a_SAS_keeps_the_SAS_out_of_what_logs_show()
    {
        var s = RemoteCacheSettings.Parse("https://contoso.blob.core.windows.net/modelbuild/team/a?sv=2024-11-04&sp=rl&sig=c2VjcmV0LXNpZw%3D%3D");
        Assert.Equal(RemoteCacheService.AzureBlob, s.Service);
        Assert.Equal("modelbuild", s.Container);
        Assert.Equal("team/a", s.Prefix);
        Assert.Equal("https://contoso.blob.core.windows.net/modelbuild", s.ContainerUri!.ToString().TrimEnd('/'));
        Assert.Equal("sv=2024-11-04&sp=rl&sig=c2VjcmV0LXNpZw%3D%3D", s.SasQuery);
        Assert.DoesNotContain("sig", s.Display);
        Assert.Equal("https://contoso.blob.core.windows.net/modelbuild/team/a (SAS)", s.Display);
    }

    [Fact]
    public void An_emulator_URL_names_the_account_in_its_path()
    {
        var s = RemoteCacheSettings.Parse("http://127.0.0.1:10000/devstoreaccount1/cache/p");
        Assert.Equal("cache", s.Container);
        Assert.Equal("p", s.Prefix);
        Assert.Null(s.SasQuery);
    }

    [Fact]
    public void Azblob_takes_the_connection_string_and_fails_without_one()
    {
        var s = RemoteCacheSettings.Parse("azblob://modelbuild/team", "UseDevelopmentStorage=true");
        Assert.Equal(("modelbuild", "team"), (s.Container, s.Prefix));
        Assert.Equal("UseDevelopmentStorage=true", s.ConnectionString);
        Assert.Equal("azblob://modelbuild/team", s.Display);
        if (Environment.GetEnvironmentVariable(RemoteCacheSettings.ConnectionStringVariable) is null && Environment.GetEnvironmentVariable(RemoteCacheSettings.AzureConnectionStringVariable) is null)
        {
            var e = Assert.Throws<RemoteCacheException>(() => RemoteCacheSettings.Parse("azblob://modelbuild"));
            Assert.Equal("MB0629", e.Code);
        }
    }

    [Fact]
    public void S3_takes_bucket_and_prefix()
    {
        var s = RemoteCacheSettings.Parse("s3://team-cache/modelbuild/v");
        Assert.Equal((RemoteCacheService.S3, "team-cache", "modelbuild/v"), (s.Service, s.Container, s.Prefix));
    }

    [Theory]
    [InlineData("ftp://host/x")]
    [InlineData("not a url")]
    [InlineData("https://contoso.blob.core.windows.net/")]
    public void Anything_else_is_MB0620_and_never_shows_a_query(string location)
    {
        var e = Assert.Throws<RemoteCacheException>(() => RemoteCacheSettings.Parse(location + "?sig=secret"));
        Assert.Equal("MB0620", e.Code);
        Assert.DoesNotContain("secret", e.Cause);
    }

    [Fact]
    public void The_mode_defaults_to_ReadWrite_on_CI_and_Read_elsewhere()
    {
        Assert.Equal(RemoteCacheMode.ReadWrite, RemoteCacheSettings.ParseMode(null, "true"));
        Assert.Equal(RemoteCacheMode.Read, RemoteCacheSettings.ParseMode("", null));
        Assert.Equal(RemoteCacheMode.Read, RemoteCacheSettings.ParseMode(null, "false"));
        Assert.Equal(RemoteCacheMode.Off, RemoteCacheSettings.ParseMode("off", "true"));
        Assert.Equal("MB0628", Assert.Throws<RemoteCacheException>(() => RemoteCacheSettings.ParseMode("sometimes", null)).Code);
    }

    [Fact]
    public void The_layout_names_blobs_by_hash_and_manifests_by_key()
    {
        var key = new string('b', 64);
        Assert.Equal($"modelbuild-cache-v1/entries/{key}.json", RemoteCacheLayout.Manifest(RemoteCacheLayout.EntryKind, key));
        Assert.Equal($"modelbuild-cache-v1/stages/{key}.json", RemoteCacheLayout.Manifest(RemoteCacheLayout.StageKind, key));
        Assert.Equal("modelbuild-cache-v1/blobs/abc", RemoteCacheLayout.Blob("abc"));
        Assert.Equal((RemoteCacheLayout.StageKind, key), RemoteCacheLayout.ParseManifestName($"modelbuild-cache-v1/stages/{key}.json"));
        Assert.Null(RemoteCacheLayout.ParseManifestName("modelbuild-cache-v1/blobs/abc"));
    }
}
